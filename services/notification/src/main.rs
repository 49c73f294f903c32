//! The notification service binary: load config, start telemetry, run (see `fd_chassis::service::main`).

fn main() -> std::process::ExitCode {
    fd_chassis::service::main(
        "notification",
        env!("CARGO_PKG_VERSION"),
        notification::Config::from_env,
        |cfg| &cfg.common,
        |cfg, listener| notification::run(cfg, listener, fd_chassis::shutdown::signal()),
    )
}
