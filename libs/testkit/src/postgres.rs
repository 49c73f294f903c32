//! A PostgreSQL server of a drill's own: Debian's binaries, a fresh cluster in the drill's
//! directory on a free loopback port, trust authentication. The drill can pause it (SIGSTOP:
//! a database that hangs) and stop and start it (an outage: connections refused), without
//! disturbing the server other tests share.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A running PostgreSQL cluster in a directory of its own.
#[derive(Debug)]
pub struct LocalPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    paused: bool,
}

/// The directory of Debian's PostgreSQL binaries (the newest installed version), or
/// `$PG_BIN_DIR`.
pub fn bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("PG_BIN_DIR") {
        return Ok(dir.into());
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| {
            format!("no PostgreSQL in /usr/lib/postgresql ({e}); run scripts/ensure-postgres.sh")
        })?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, p)| p)
        .ok_or_else(|| "no PostgreSQL version under /usr/lib/postgresql".to_string())
}

/// As root, PostgreSQL's programs run as the `postgres` user (they refuse root): the
/// command is given that user's ids directly, so no wrapper process stands between the drill
/// and the server (signals reach the server itself).
fn as_postgres(program: &Path) -> Command {
    let mut c = Command::new(program);
    if rustix::process::geteuid().is_root() {
        if let Some((uid, gid)) = postgres_ids() {
            c.uid(uid).gid(gid);
        }
    }
    c
}

/// The uid and gid of the `postgres` user, from /etc/passwd.
fn postgres_ids() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        (f.next()? == "postgres").then_some(())?;
        let _password = f.next()?;
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

impl LocalPostgres {
    /// Creates a cluster under `dir` and starts it on a free port.
    pub async fn start(dir: &Path) -> Result<Self, String> {
        let bin = bin_dir()?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        // Owned by the user PostgreSQL runs as.
        let _ = Command::new("chown")
            .arg("postgres:postgres")
            .arg(&dir)
            .status()
            .await;
        let out = as_postgres(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(dir.join("data"))
            .output()
            .await
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let port = crate::system::free_port().map_err(|e| e.to_string())?;
        let mut pg = Self {
            bin,
            dir,
            port,
            child: None,
            paused: false,
        };
        pg.start_server().await?;
        Ok(pg)
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server process (again) on the same port and data.
    pub async fn start_server(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("postgres.log"))
            .map_err(|e| e.to_string())?;
        let child = as_postgres(&self.bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=300",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("postgres: {e}"))?;
        self.child = Some(child);
        for _ in 0..300 {
            if sqlx_ready(&self.admin_url()).await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!(
            "postgres did not accept connections on {} (see {})",
            self.port,
            self.dir.join("postgres.log").display()
        ))
    }

    /// A new empty database; returns its URL.
    pub async fn create_database(&self, name: &str) -> Result<String, String> {
        use sqlx::Connection as _;
        let mut c = sqlx::PgConnection::connect(&self.admin_url())
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut c)
            .await
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "postgres://postgres@127.0.0.1:{}/{name}",
            self.port
        ))
    }

    /// Sends `signal` to the server and every process it started (PostgreSQL puts each of
    /// its processes in a session of its own, so they are found by parent in /proc).
    fn signal_all(&self, signal: rustix::process::Signal) {
        let Some(server) = self.child.as_ref().and_then(Child::id) else {
            return;
        };
        let mut pids = vec![server];
        pids.extend(children_of(server));
        for pid in pids {
            if let Some(pid) = i32::try_from(pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process(pid, signal);
            }
        }
    }

    /// SIGSTOP to every PostgreSQL process: connections stay open and nothing answers.
    pub fn pause(&mut self) {
        self.signal_all(rustix::process::Signal::STOP);
        self.paused = true;
    }

    /// SIGCONT: the paused server goes on where it stood.
    pub fn resume(&mut self) {
        self.signal_all(rustix::process::Signal::CONT);
        self.paused = false;
    }

    /// Stops the server at once (SIGQUIT, "immediate": every connection is cut, as in a
    /// crash); [`Self::start_server`] brings it back with its data.
    pub async fn stop_server(&mut self) {
        if self.paused {
            self.resume();
        }
        self.signal_all(rustix::process::Signal::QUIT);
        if let Some(mut c) = self.child.take() {
            if tokio::time::timeout(Duration::from_secs(10), c.wait())
                .await
                .is_err()
            {
                self.signal_all(rustix::process::Signal::KILL);
                let _ = c.wait().await;
            }
        }
    }
}

/// The processes whose parent is `parent` (from /proc/PID/stat).
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
                    let rest = stat.rsplit_once(')')?.1;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

async fn sqlx_ready(url: &str) -> bool {
    use sqlx::Connection as _;
    match tokio::time::timeout(Duration::from_secs(2), sqlx::PgConnection::connect(url)).await {
        Ok(Ok(c)) => {
            let _ = c.close().await;
            true
        }
        _ => false,
    }
}

impl Drop for LocalPostgres {
    fn drop(&mut self) {
        if self.paused {
            self.resume();
        }
        self.signal_all(rustix::process::Signal::QUIT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_private_server_pauses_stops_and_comes_back_with_its_data() {
        use sqlx::Connection as _;
        let dir = tempfile::tempdir().expect("dir");
        let mut pg = LocalPostgres::start(&dir.path().join("pg"))
            .await
            .expect("postgres starts");
        let url = pg.create_database("drill").await.expect("database");
        let mut c = sqlx::PgConnection::connect(&url).await.expect("connect");
        sqlx::query("CREATE TABLE t (v INT)")
            .execute(&mut c)
            .await
            .expect("create");
        pg.pause();
        let hung = tokio::time::timeout(
            Duration::from_millis(500),
            sqlx::query("INSERT INTO t VALUES (1)").execute(&mut c),
        )
        .await;
        assert!(hung.is_err(), "a paused server answers nothing: {hung:?}");
        pg.resume();
        pg.stop_server().await;
        assert!(
            !sqlx_ready(&url).await,
            "a stopped server refuses connections"
        );
        pg.start_server().await.expect("restart");
        let mut c = sqlx::PgConnection::connect(&url).await.expect("reconnect");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&mut c)
            .await
            .expect("the table survived");
        assert!(n <= 1);
    }
}
