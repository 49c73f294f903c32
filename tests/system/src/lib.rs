//! The five services, as the test kit's launchers need them: [`System`] is the whole system in
//! one process (`fd_testkit::in_process`, run by [`FiveServices`]), for the system tests and the
//! provider verification; [`bin_dir`] finds the binaries for the tests that run processes.

use std::future::Future;

use fd_testkit::Server;

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
        vars: Vec<(String, String)>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Server> + Send>> {
        match name {
            "payment" => Box::pin(Server::service(vars, payment::run)),
            "order" => Box::pin(Server::service(vars, ::order::run)),
            "store" => Box::pin(Server::service(vars, ::store::run)),
            "delivery" => Box::pin(Server::service(vars, delivery::run)),
            "notification" => Box::pin(Server::service(vars, ::notification::run)),
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

    /// The NATS permissions are generated from what each service's definition says it
    /// consumes (and a service refuses at start to consume anything else).
    #[test]
    fn nats_grants_match_every_service_definition() {
        for (name, consumes) in fd_testkit::nats_auth::CONSUMES {
            if name == fd_testkit::system::MARKETING.0 {
                // Python: its consumer record lists what it subscribes to (checked against its
                // code by the contract tests); the grants are the contexts of those events.
                let record: serde_json::Value = serde_json::from_str(
                    &std::fs::read_to_string(concat!(
                        env!("CARGO_MANIFEST_DIR"),
                        "/../contracts/consumers/marketing.json"
                    ))
                    .expect("marketing's consumer record"),
                )
                .expect("json");
                let mut contexts: Vec<String> = record["events"]
                    .as_array()
                    .expect("events")
                    .iter()
                    .filter_map(|e| e["type"].as_str()?.split('.').nth(1).map(str::to_string))
                    .collect();
                contexts.dedup();
                assert_eq!(contexts, consumes, "{name}");
                continue;
            }
            let def = super::definition(name).expect("a service of the system");
            assert_eq!(def.consumes, consumes, "{name}");
        }
        assert_eq!(
            fd_testkit::nats_auth::CONSUMES.len(),
            fd_testkit::system::SERVICES.len() + 1
        );
    }
}
