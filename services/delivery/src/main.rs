//! The delivery service binary: load config, start telemetry, run (see `fd_chassis::service::main`).

fn main() -> std::process::ExitCode {
    fd_chassis::service::main(
        "delivery",
        env!("CARGO_PKG_VERSION"),
        delivery::Config::from_env,
        |cfg| &cfg.common,
        |cfg, listener| delivery::run(cfg, listener, fd_chassis::shutdown::signal()),
    )
}
