//! The system under drill, started by the one launcher (`fd_testkit::system`) with the drill's
//! settings. Alone: nats-server and one process per service on SQLite. As a cluster: a 3-node
//! JetStream cluster (streams in 3 copies), two replicas of every service, and a PostgreSQL
//! server of the drill's own (`fd_testkit::postgres`) that the drill can pause and stop.
//! Every process can be killed with SIGKILL and restarted on the same port with the same data.

use std::path::Path;

use fd_testkit::postgres::LocalPostgres;
use fd_testkit::system::{Nats, Options, SERVICES};

pub use fd_testkit::system::ProcessSystem as System;

/// The system and, in a cluster drill, its PostgreSQL.
pub struct Drill {
    pub sys: System,
    pub pg: Option<LocalPostgres>,
}

/// Starts the system with its data under `dir`.
pub async fn start(
    bin_dir: &Path,
    nats_bin: &Path,
    dir: &Path,
    cluster: bool,
) -> anyhow::Result<Drill> {
    let mut opts = Options::new(bin_dir, dir)
        // Short timeouts, so that the load notices faults and recovers within the drill.
        .env("PAYMENT_TIMEOUT_MS", "1000")
        .env("BREAKER_COOLDOWN_MS", "1000")
        .env("SHUTDOWN_GRACE_MS", "2000")
        // Authorizations without an order are released within the drill's quiet period.
        .env("ORPHAN_AFTER_MS", "5000")
        .env("ORPHAN_SWEEP_MS", "1000")
        // Marketing's best customers: two delivered orders earn a coupon, so that a drill's
        // customers (two or three orders each) earn many.
        .env(
            "COUPON_MIN_ORDERS",
            &crate::invariants::COUPON_MIN_ORDERS.to_string(),
        );
    opts.nats = Nats::Start {
        bin: nats_bin.to_path_buf(),
        port: None,
    };
    let mut pg = None;
    if cluster {
        let server = LocalPostgres::start(&dir.join("pg"))
            .await
            .map_err(anyhow::Error::msg)?;
        for (name, _) in SERVICES {
            let url = server
                .create_database(name)
                .await
                .map_err(anyhow::Error::msg)?;
            opts.database_urls.insert(name.to_string(), url);
        }
        opts.replicas = 2;
        opts.nats_servers = 3;
        opts = opts.env("NATS_STREAM_REPLICAS", "3");
        pg = Some(server);
    }
    let sys = System::start(opts).await?;
    Ok(Drill { sys, pg })
}
