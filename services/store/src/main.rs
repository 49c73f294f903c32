//! The store service binary: load config, start logging, run.

use fd_chassis::config::Env;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cfg = match store::Config::from_env(Env::from_process()) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("store: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    fd_chassis::telemetry::init(cfg.common.log_format);
    let listener = match fd_chassis::server::bind(cfg.common.listen_addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("store: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match store::run(cfg, listener, fd_chassis::shutdown::signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "store failed");
            std::process::ExitCode::from(1)
        }
    }
}
