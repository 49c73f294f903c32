//! The store service binary: load config, start telemetry, run (see `fd_chassis::service::main`).

fn main() -> std::process::ExitCode {
    fd_chassis::service::main(
        "store",
        env!("CARGO_PKG_VERSION"),
        store::Config::from_env,
        |cfg| &cfg.common,
        |cfg, listener| store::run(cfg, listener, fd_chassis::shutdown::signal()),
    )
}
