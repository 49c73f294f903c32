//! The payment service binary: load config, start telemetry, run (see `fd_chassis::service::main`).

fn main() -> std::process::ExitCode {
    fd_chassis::service::main(
        "payment",
        env!("CARGO_PKG_VERSION"),
        payment::Config::from_env,
        |cfg| &cfg.common,
        |cfg, listener| payment::run(cfg, listener, fd_chassis::shutdown::signal()),
    )
}
