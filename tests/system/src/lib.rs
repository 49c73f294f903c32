//! The five services, as the test kit's launchers need them: [`System`] is the whole system in
//! one process (`fd_testkit::in_process`, run by [`FiveServices`]), for the system tests and the
//! provider verification; [`bin_dir`] finds the binaries for the tests that run processes.

use std::future::Future;

use fd_chassis::config::Env;
use fd_chassis::service::{ServiceConfig, ShutdownSignal};
use fd_testkit::Server;
use tokio::net::TcpListener;

/// Where `cargo build --bins` put the service binaries, for the tests that run them as
/// processes (`target/debug/deps/<test>` → `target/debug`).
pub fn bin_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target dir")
        .to_path_buf();
    assert!(
        dir.join("order").exists(),
        "{} has no service binaries: run `cargo build --bins` (make test does)",
        dir.display()
    );
    dir
}

pub use fd_testkit::in_process::{eventually, SERVICES};

/// The whole system in one process.
pub type System = fd_testkit::in_process::System<FiveServices>;

/// Runs each of the five services in this process.
#[derive(Debug)]
pub struct FiveServices;

impl fd_testkit::in_process::Launcher for FiveServices {
    fn launch(
        name: &'static str,
        env: Env,
    ) -> std::pin::Pin<Box<dyn Future<Output = Server> + Send>> {
        match name {
            "payment" => Box::pin(serve(env, payment::run)),
            "order" => Box::pin(serve(env, ::order::run)),
            "store" => Box::pin(serve(env, ::store::run)),
            "delivery" => Box::pin(serve(env, delivery::run)),
            "notification" => Box::pin(serve(env, ::notification::run)),
            other => panic!("unknown service {other}"),
        }
    }
}

/// Each service's definition, by name (checked against the launcher's table in the tests).
pub fn definition(name: &str) -> Option<&'static fd_chassis::service::Definition> {
    Some(match name {
        "payment" => &payment::SERVICE,
        "order" => &::order::SERVICE,
        "store" => &::store::SERVICE,
        "delivery" => &delivery::SERVICE,
        "notification" => &::notification::SERVICE,
        _ => return None,
    })
}

/// Runs one service in this process with the configuration read from `env`.
async fn serve<C, R>(
    env: Env,
    run: impl FnOnce(C, TcpListener, ShutdownSignal) -> R + Send + 'static,
) -> Server
where
    C: ServiceConfig + Send + 'static,
    R: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let cfg = C::from_env(env).expect("config");
    let server = Server::start(move |listener, shutdown| {
        run(
            cfg,
            listener,
            Box::pin(async move { shutdown.wait().await }),
        )
    })
    .await;
    server.wait_serving().await;
    server
}

#[cfg(test)]
mod tests {
    /// The launcher's table of names and default ports is each service's own definition.
    #[test]
    fn launcher_table_matches_every_service_definition() {
        for (name, port) in fd_testkit::system::SERVICES {
            let def = super::definition(name).expect("a service of the system");
            assert_eq!(def.name, name);
            assert_eq!(def.default_port, port, "{name}");
        }
    }
}
