//! The system under drill: nats-server and the five services as processes, started by the one
//! launcher (`fd_testkit::system`) with the drill's settings; each process can be killed with
//! SIGKILL and restarted on the same port with the same data.

use std::path::Path;

use fd_testkit::system::{Nats, Options};

pub use fd_testkit::system::ProcessSystem as System;

/// Everything that can be killed.
pub const TARGETS: [&str; 6] = [
    "order",
    "payment",
    "store",
    "delivery",
    "notification",
    "nats",
];

/// Starts the system with its data under `dir`.
pub async fn start(bin_dir: &Path, nats_bin: &Path, dir: &Path) -> anyhow::Result<System> {
    let mut opts = Options::new(bin_dir, dir)
        // Short timeouts, so that the load notices faults and recovers within the drill.
        .env("PAYMENT_TIMEOUT_MS", "1000")
        .env("BREAKER_COOLDOWN_MS", "1000")
        .env("SHUTDOWN_GRACE_MS", "2000");
    opts.nats = Nats::Start {
        bin: nats_bin.to_path_buf(),
        port: None,
    };
    Ok(System::start(opts).await?)
}
