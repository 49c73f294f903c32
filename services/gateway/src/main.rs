//! `gateway`: the edge for browsers (see the crate documentation). Configured by environment
//! variables; `--help` lists them.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => {}
        Some("-h" | "--help") => {
            let _ = std::io::Write::write_all(&mut std::io::stdout(), HELP.as_bytes());
            return ExitCode::SUCCESS;
        }
        Some("-V" | "--version") => {
            let line = format!("gateway {}\n", env!("CARGO_PKG_VERSION"));
            let _ = std::io::Write::write_all(&mut std::io::stdout(), line.as_bytes());
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("gateway: unexpected argument {other:?}; configuration comes from environment variables (see gateway --help)");
            return ExitCode::from(2);
        }
    }
    let cfg = match gateway::Config::from_env(fd_chassis::config::Env::from_process()) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("gateway: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gateway: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        let telemetry =
            fd_chassis::telemetry::init("gateway", env!("CARGO_PKG_VERSION"), cfg.log_format);
        let code = match fd_chassis::server::bind(cfg.listen_addr).await {
            Err(e) => {
                eprintln!("gateway: {e}");
                ExitCode::from(1)
            }
            Ok(listener) => match gateway::run(cfg, listener, fd_chassis::shutdown::signal()).await
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("gateway: {e:#}");
                    ExitCode::from(1)
                }
            },
        };
        telemetry.shutdown();
        code
    })
}

const HELP: &str =
    "gateway: the edge for browsers: serves the web app and passes gRPC-Web to the services

Usage: gateway [--help | --version]

Configured by environment variables (every bad value is reported, exit 2):
  LISTEN_ADDR        where it listens (127.0.0.1:8080)
  ORDER_ADDR, STORE_ADDR, DELIVERY_ADDR, NOTIFICATION_ADDR
                     the services (http://127.0.0.1:50051 ...)
  WEB_DIR            the built web app (web/dist)
  AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE, AUTH_LEEWAY_S
                     whose end-user tokens are accepted
  DEMO_ISSUER_URL    the demo issuer behind POST /auth/token (unset: no sign-in here)
  MAX_MESSAGE_BYTES  largest request accepted (65536)
  RATE_PER_CLIENT, RATE_BURST
                     calls per second per client address (50) and burst (100)
  CORS_ORIGINS       other origins allowed to call, comma-separated (none)
  LOG_FORMAT         text or json; OTEL_* as for the services
";
