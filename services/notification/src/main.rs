//! The notification service binary: load config, start logging, run.

use fd_chassis::config::Env;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cfg = match notification::Config::from_env(Env::from_process()) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("notification: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    fd_chassis::telemetry::init(cfg.common.log_format);
    let listener = match fd_chassis::server::bind(cfg.common.listen_addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("notification: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match notification::run(cfg, listener, fd_chassis::shutdown::signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "notification failed");
            std::process::ExitCode::from(1)
        }
    }
}
