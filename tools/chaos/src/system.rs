//! The system as processes: nats-server and the five service binaries on fixed local ports,
//! each killable with SIGKILL and restartable with the same data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// Everything that can be killed.
pub const TARGETS: [&str; 6] = [
    "order",
    "payment",
    "store",
    "delivery",
    "notification",
    "nats",
];

/// The running system.
#[derive(Debug)]
pub struct System {
    bin_dir: PathBuf,
    nats_bin: PathBuf,
    pub dir: PathBuf,
    pub ports: HashMap<&'static str, u16>,
    children: HashMap<&'static str, Child>,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl System {
    /// Starts nats-server and the five services with their data under `dir`.
    pub async fn start(bin_dir: &Path, nats_bin: &Path, dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.join("logs"))?;
        let mut ports = HashMap::new();
        for t in TARGETS {
            ports.insert(t, free_port()?);
        }
        let mut s = Self {
            bin_dir: bin_dir.to_path_buf(),
            nats_bin: nats_bin.to_path_buf(),
            dir: dir.to_path_buf(),
            ports,
            children: HashMap::new(),
        };
        for t in TARGETS.iter().rev() {
            // nats first, then the services (payment before order)
            s.start_one(t).await?;
        }
        Ok(s)
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}", self.ports[name])
    }

    pub fn nats_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.ports["nats"])
    }

    /// The SQLite file of a service.
    pub fn db(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.db"))
    }

    async fn start_one(&mut self, name: &'static str) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("logs").join(format!("{name}.log")))?;
        let port = self.ports[name];
        let mut cmd = if name == "nats" {
            let mut c = Command::new(&self.nats_bin);
            c.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
                .arg(self.dir.join("nats"));
            c
        } else {
            let mut c = Command::new(self.bin_dir.join(name));
            c.env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
                .env("DATA_DIR", &self.dir)
                .env("NATS_URL", self.nats_url())
                .env("PAYMENT_ADDR", self.url("payment"))
                .env("PAYMENT_TIMEOUT_MS", "1000")
                .env("BREAKER_COOLDOWN_MS", "1000")
                .env("SHUTDOWN_GRACE_MS", "2000")
                .env_remove("DATABASE_URL")
                .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
            c
        };
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {name}: {e}"))?;
        self.children.insert(name, child);
        // Wait until it listens.
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        anyhow::bail!(
            "{name} did not start; see {}",
            self.dir.join("logs").display()
        )
    }

    /// SIGKILL: no shutdown, no flush — a crash.
    pub async fn kill(&mut self, name: &'static str) {
        if let Some(mut c) = self.children.remove(name) {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
    }

    pub async fn restart(&mut self, name: &'static str) -> anyhow::Result<()> {
        self.kill(name).await;
        self.start_one(name).await
    }

    /// Stops everything gracefully (SIGTERM), nats last.
    pub async fn stop(mut self) {
        for name in TARGETS {
            if let Some(mut c) = self.children.remove(name) {
                if let Some(pid) = c.id() {
                    let _ = Command::new("kill")
                        .arg("-TERM")
                        .arg(pid.to_string())
                        .status()
                        .await;
                }
                let _ = tokio::time::timeout(Duration::from_secs(5), c.wait()).await;
            }
        }
    }
}
