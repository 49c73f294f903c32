//! The order service binary: load config, start telemetry, run (see `fd_chassis::service::main`).

fn main() -> std::process::ExitCode {
    fd_chassis::service::main(
        "order",
        env!("CARGO_PKG_VERSION"),
        order::Config::from_env,
        |cfg| &cfg.common,
        |cfg, listener| order::run(cfg, listener, fd_chassis::shutdown::signal()),
    )
}
