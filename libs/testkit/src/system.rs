//! The one launcher of the whole system: nats-server, the five Rust service binaries and the
//! Python marketing service as processes, wired to each other the same way for `make run` (`fdctl up`), the client tests
//! (`fdctl with-system`), the trace test, `make bench` and the chaos drills.
//!
//! ```text
//! let sys = ProcessSystem::start(Options::new(bin_dir, data_dir)).await?;
//! let order = sys.url("order");      // http://127.0.0.1:PORT
//! sys.kill("payment").await;         // SIGKILL: a crash
//! sys.restart("payment").await?;     // same port, same data
//! sys.stop().await;                  // SIGTERM, nats last
//! ```
//!
//! In-process systems (the system tests) use the same wiring through [`service_env`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// The services, in start order (payment first: order calls it), with their default ports.
/// `tests/system` checks this table against each service's own `SERVICE` definition.
pub const SERVICES: [(&str, u16); 5] = [
    ("payment", 50052),
    ("order", 50051),
    ("store", 50053),
    ("delivery", 50054),
    ("notification", 50055),
];

/// The marketing context (services/marketing): a Python service beside the Rust ones, started
/// with the interpreter of its own virtualenv, and its default port.
pub const MARKETING: (&str, u16) = ("marketing", 50056);

/// The Python that runs marketing: `$FD_MARKETING_PYTHON` (empty: do not run marketing), else
/// the virtualenv `make marketing` builds (`services/marketing/.venv`), if it exists.
pub fn marketing_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FD_MARKETING_PYTHON") {
        return (!p.is_empty()).then(|| PathBuf::from(p));
    }
    let venv =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../services/marketing/.venv/bin/python");
    venv.exists().then_some(venv)
}

/// The port NATS listens on by default.
pub const NATS_DEFAULT_PORT: u16 = 4222;

/// The environment that wires service `name` into a system: where it listens, where NATS
/// is, where payment is. The one place this wiring is written down.
pub fn service_env(
    name: &str,
    listen: &str,
    nats_url: &str,
    payment_url: Option<&str>,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("LISTEN_ADDR".to_string(), listen.to_string()),
        ("NATS_URL".to_string(), nats_url.to_string()),
    ];
    if name == "order" {
        if let Some(url) = payment_url {
            env.push(("PAYMENT_ADDR".to_string(), url.to_string()));
        }
    }
    env
}

/// A free loopback port (bound, then released).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// True if something accepts connections on loopback `port`.
pub fn port_in_use(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// Which ports the services get.
#[derive(Debug, Clone)]
pub enum Ports {
    /// Each service's default port, or `<NAME>_PORT` from the given overrides.
    Defaults(HashMap<String, u16>),
    /// Free ports picked at start (tests, bench, chaos).
    Free,
}

impl Ports {
    /// The port of `name`: a free one, or its default (`<NAME>_PORT` overrides it), which must
    /// not be taken.
    fn pick(&self, name: &str, default: u16) -> Result<u16, StartError> {
        match self {
            Ports::Free => Ok(free_port()?),
            Ports::Defaults(overrides) => {
                let var = format!("{}_PORT", name.to_ascii_uppercase());
                let port = overrides.get(&var).copied().unwrap_or(default);
                if port_in_use(port) {
                    return Err(StartError::PortInUse {
                        name: name.to_string(),
                        port,
                        var,
                    });
                }
                Ok(port)
            }
        }
    }
}

/// Which NATS the system uses.
#[derive(Debug, Clone)]
pub enum Nats {
    /// Start nats-server (`bin`) with JetStream on `port` (`None`: a free one), storing under
    /// the data directory. It can be killed and restarted like a service.
    Start {
        /// The nats-server binary.
        bin: PathBuf,
        /// Its port.
        port: Option<u16>,
    },
    /// Use a server that is already running.
    External(String),
}

/// How to start a system.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the service binaries are (`target/debug`, `target/release`).
    pub bin_dir: PathBuf,
    /// Data (SQLite files, JetStream store) and `logs/`.
    pub data_dir: PathBuf,
    /// Service ports.
    pub ports: Ports,
    /// NATS.
    pub nats: Nats,
    /// Extra environment for every service (e.g. `RUST_LOG`, `OTEL_*`, drill settings).
    pub env: Vec<(String, String)>,
    /// `DATABASE_URL` per service (e.g. fresh PostgreSQL databases); unset = SQLite under
    /// the data directory.
    pub database_urls: HashMap<String, String>,
    /// How long a service may take to report SERVING.
    pub start_timeout: Duration,
    /// Seed the demo stores and menus ([`crate::demo`]) and wait until order prices from them.
    pub seed_demo: bool,
    /// Port of the token issuer (`None`: a free one).
    pub issuer_port: Option<u16>,
    /// Let the issuer hand out tokens for any user name (tests), not only the demo users.
    pub issuer_any_user: bool,
    /// Processes per service (1; more need PostgreSQL in `database_urls`, which the
    /// replicas of a service share). Replica 1 is named after the service, the others
    /// `order-2`, `order-3`, ...
    pub replicas: usize,
    /// Servers of the NATS this system starts: 1, or a JetStream cluster of 3 (`nats`,
    /// `nats-2`, `nats-3`, routed on loopback; streams kept in 3 copies).
    pub nats_servers: usize,
    /// Also run the edge ([`GATEWAY`]: the web app in this directory, gRPC-Web to the
    /// services, sign-in through the issuer), once the services are up.
    pub gateway: Option<PathBuf>,
    /// Also run marketing ([`MARKETING`]) with this Python (see [`marketing_python`]); its
    /// `DATABASE_URL` comes from `database_urls["marketing"]`, else SQLite under the data
    /// directory.
    pub marketing: Option<PathBuf>,
}

/// The edge's process name, and the port it listens on by default (`make run`).
pub const GATEWAY: (&str, u16) = ("gateway", 8080);

impl Options {
    /// Free ports, a fresh nats-server from [`crate::nats_server_bin`], SQLite under `data_dir`.
    pub fn new(bin_dir: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            bin_dir: bin_dir.into(),
            data_dir: data_dir.into(),
            ports: Ports::Free,
            nats: Nats::Start {
                bin: crate::nats_server_bin(),
                port: None,
            },
            env: Vec::new(),
            database_urls: HashMap::new(),
            start_timeout: Duration::from_secs(30),
            seed_demo: true,
            issuer_port: None,
            issuer_any_user: false,
            replicas: 1,
            nats_servers: 1,
            gateway: None,
            marketing: marketing_python(),
        }
    }

    /// Adds an environment variable for every service.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }
}

/// Why a system did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A service's port is taken by another process.
    #[error("port {port} ({name}) is already in use by another process; stop it or set {var}=<free port>")]
    PortInUse {
        /// The service.
        name: String,
        /// The port.
        port: u16,
        /// The variable that moves it.
        var: String,
    },
    /// A process could not be started or did not come up.
    #[error("{0}")]
    Start(String),
    /// Files or ports.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A running system of processes; everything it started is killed when it is dropped.
#[derive(Debug)]
pub struct ProcessSystem {
    opts: Options,
    /// Port of every service instance (`order`, `order-2`, ...).
    ports: HashMap<String, u16>,
    /// Port of every service instance's `/metrics` (`METRICS_ADDR`).
    metrics_ports: HashMap<String, u16>,
    nats_url: String,
    /// Client and cluster port of every NATS server this system runs (none for an external).
    nats_ports: Vec<(u16, u16)>,
    children: HashMap<String, Child>,
    startup: HashMap<String, Duration>,
    issuer: crate::issuer::Issuer,
    order_secret: String,
    /// The NATS users of a nats-server this system runs (an external one has its own).
    nats_auth: Option<crate::nats_auth::LocalAuth>,
}

impl ProcessSystem {
    /// Starts NATS (unless external) and the services in order, each waited for until it
    /// reports SERVING.
    pub async fn start(opts: Options) -> Result<Self, StartError> {
        std::fs::create_dir_all(opts.data_dir.join("logs"))?;
        if opts.replicas > 1 {
            if let Some((name, _)) = SERVICES
                .iter()
                .find(|(n, _)| !opts.database_urls.contains_key(*n))
            {
                return Err(StartError::Start(format!(
                    "{} replicas of {name} need a shared database: give it a PostgreSQL DATABASE_URL",
                    opts.replicas
                )));
            }
        }
        if !matches!(opts.nats_servers, 1 | 3) {
            return Err(StartError::Start(format!(
                "a NATS of {} servers: run 1, or a cluster of 3",
                opts.nats_servers
            )));
        }
        let mut ports = HashMap::new();
        for (name, default) in SERVICES {
            for r in 1..opts.replicas.max(1) {
                ports.insert(instance_name(name, r), free_port()?);
            }
            ports.insert(name.to_string(), opts.ports.pick(name, default)?);
        }
        if opts.marketing.is_some() {
            let (name, default) = MARKETING;
            ports.insert(name.to_string(), opts.ports.pick(name, default)?);
        }
        // Each instance's Prometheus endpoint: the service's default (gRPC port + 1000) for
        // the first replica on the default ports when it is free, else any free port.
        let mut metrics_ports = HashMap::new();
        for (instance, port) in &ports {
            let preferred = port.saturating_add(1000);
            let first = !instance.contains('-');
            let metrics =
                if matches!(opts.ports, Ports::Defaults(_)) && first && !port_in_use(preferred) {
                    preferred
                } else {
                    free_port()?
                };
            metrics_ports.insert(instance.clone(), metrics);
        }
        let (nats_url, nats_ports) = match &opts.nats {
            Nats::External(url) => (url.clone(), Vec::new()),
            Nats::Start { port, .. } => {
                let mut nats_ports = Vec::new();
                for i in 0..opts.nats_servers {
                    let client = match port {
                        Some(p) if i == 0 => *p,
                        _ => free_port()?,
                    };
                    nats_ports.push((client, free_port()?));
                }
                let url = nats_ports
                    .iter()
                    .map(|(p, _)| format!("nats://127.0.0.1:{p}"))
                    .collect::<Vec<_>>()
                    .join(",");
                (url, nats_ports)
            }
        };
        let issuer = crate::issuer::Issuer::start_on(opts.issuer_port.unwrap_or(0))
            .await
            .map_err(|e| StartError::Start(format!("the token issuer cannot listen: {e}")))?;
        issuer.allow_any_user(opts.issuer_any_user);
        let order_secret = issuer.client_secret("order");
        // A nats-server of our own gets fresh users at every start.
        let nats_auth = (!nats_ports.is_empty()).then(crate::nats_auth::LocalAuth::generate);
        if let Some(auth) = &nats_auth {
            for (i, (port, cluster_port)) in nats_ports.iter().enumerate() {
                let node = instance_name("nats", i);
                let mut conf = auth.server_config(*port, &opts.data_dir.join(&node), None);
                if nats_ports.len() > 1 {
                    conf.push_str(&crate::nats_auth::cluster_block(
                        &node,
                        *cluster_port,
                        nats_ports
                            .iter()
                            .map(|(_, c)| *c)
                            .filter(|c| c != cluster_port),
                    ));
                }
                write_private(&opts.data_dir.join(format!("{node}.conf")), &conf)?;
            }
            write_private(
                &opts.data_dir.join("nats-admin.url"),
                &format!("{}\n", auth.admin_url(&nats_url)),
            )?;
        }
        let mut sys = Self {
            opts,
            ports,
            metrics_ports,
            nats_url,
            nats_ports,
            children: HashMap::new(),
            startup: HashMap::new(),
            issuer,
            order_secret,
            nats_auth,
        };
        for i in 0..sys.nats_ports.len() {
            sys.start_one(&instance_name("nats", i)).await?;
        }
        for (name, _) in SERVICES {
            for r in 0..sys.opts.replicas.max(1) {
                sys.start_first(&instance_name(name, r)).await?;
            }
        }
        if sys.opts.marketing.is_some() {
            sys.start_first(MARKETING.0).await?;
        }
        if sys.opts.seed_demo {
            let seeded = async {
                let ops = sys.issuer.token_for("ops", &["operator"]);
                crate::demo::seed(&sys.url("store"), &ops).await?;
                crate::demo::wait_until_priced(&sys.url("order"), &ops, sys.opts.start_timeout)
                    .await
            };
            if let Err(e) = seeded.await {
                sys.stop().await;
                return Err(StartError::Start(format!("seeding the demo menus: {e:#}")));
            }
        }
        if let Some(web_dir) = sys.opts.gateway.clone() {
            if let Err(e) = sys.start_gateway(&web_dir).await {
                sys.stop().await;
                return Err(e);
            }
        }
        Ok(sys)
    }

    /// Starts the edge in front of the first replica of each service and waits until its
    /// `/healthz` says every service is SERVING.
    async fn start_gateway(&mut self, web_dir: &Path) -> Result<(), StartError> {
        let (name, default) = GATEWAY;
        let port = self.opts.ports.pick(name, default)?;
        self.ports.insert(name.to_string(), port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log(name))?;
        let mut cmd = Command::new(self.opts.bin_dir.join(name));
        cmd.env("LISTEN_ADDR", self.addr(name))
            .env("WEB_DIR", web_dir)
            .env("DEMO_ISSUER_URL", &self.issuer.url)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .envs(self.issuer.service_env())
            .envs(self.opts.env.iter().cloned());
        for (service, _) in SERVICES.iter().filter(|(s, _)| *s != "payment") {
            cmd.env(
                format!("{}_ADDR", service.to_ascii_uppercase()),
                self.url(service),
            );
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| StartError::Start(format!("cannot start the gateway: {e}")))?;
        self.children.insert(name.to_string(), child);
        let health = format!("http://{}/healthz", self.addr(name));
        let ready = wait_until(self.opts.start_timeout, || {
            let health = health.clone();
            async move { http_ok(&health).await }
        })
        .await;
        if !ready {
            return Err(StartError::Start(format!(
                "the gateway did not become healthy; see {}",
                self.log(name).display()
            )));
        }
        Ok(())
    }

    /// `http://127.0.0.1:PORT` of the edge (the web app), if this system runs it.
    pub fn gateway_url(&self) -> Option<String> {
        self.opts
            .gateway
            .as_ref()
            .map(|_| format!("http://{}", self.addr(GATEWAY.0)))
    }

    /// `http://127.0.0.1:PORT` of a service (its first replica) or of one replica
    /// (`order-2`).
    pub fn url(&self, name: &str) -> String {
        format!("http://{}", self.addr(name))
    }

    /// `http://127.0.0.1:PORT/metrics` of a service (its first replica) or of one replica:
    /// what Prometheus scrapes.
    pub fn metrics_url(&self, name: &str) -> String {
        format!(
            "http://127.0.0.1:{}/metrics",
            self.metrics_ports.get(name).copied().unwrap_or(0)
        )
    }

    /// `127.0.0.1:PORT` of a service or replica.
    pub fn addr(&self, name: &str) -> String {
        format!("127.0.0.1:{}", self.ports.get(name).copied().unwrap_or(0))
    }

    /// The URLs of every replica of `service`, comma-separated (what a client without a
    /// mesh balances over, e.g. order's `PAYMENT_ADDR`).
    pub fn urls(&self, service: &str) -> String {
        self.replicas(service)
            .iter()
            .map(|r| self.url(r))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The instance names of `service`: `order`, `order-2`, ...
    pub fn replicas(&self, service: &str) -> Vec<String> {
        (0..self.opts.replicas.max(1))
            .map(|r| instance_name(service, r))
            .collect()
    }

    /// Every process this system runs, in start order: NATS servers, then each service's
    /// replicas.
    pub fn processes(&self) -> Vec<String> {
        let mut all: Vec<String> = (0..self.nats_ports.len())
            .map(|i| instance_name("nats", i))
            .collect();
        for (name, _) in SERVICES {
            all.extend(self.replicas(name));
        }
        if self.opts.marketing.is_some() {
            all.push(MARKETING.0.to_string());
        }
        all
    }

    /// True if this system runs marketing ([`Options::marketing`]).
    pub fn runs_marketing(&self) -> bool {
        self.opts.marketing.is_some()
    }

    /// The token issuer the services trust.
    pub fn issuer(&self) -> &crate::issuer::Issuer {
        &self.issuer
    }

    /// The NATS URL the services use (no credentials in it).
    pub fn nats_url(&self) -> &str {
        &self.nats_url
    }

    /// The NATS URL with the admin's credentials (tools and checks that look at every
    /// stream); the same as [`Self::nats_url`] for an external server.
    pub fn nats_admin_url(&self) -> String {
        match &self.nats_auth {
            Some(auth) => auth.admin_url(&self.nats_url),
            None => self.nats_url.clone(),
        }
    }

    /// The NATS users of the nats-server this system runs (`None` for an external one).
    pub fn nats_auth(&self) -> Option<&crate::nats_auth::LocalAuth> {
        self.nats_auth.as_ref()
    }

    /// True if this system started its own nats-server.
    pub fn owns_nats(&self) -> bool {
        !self.nats_ports.is_empty()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.opts.data_dir
    }

    /// The SQLite file of a service (when it runs on the embedded default).
    pub fn db(&self, name: &str) -> PathBuf {
        self.opts.data_dir.join(format!("{name}.db"))
    }

    /// The `DATABASE_URL` a service was given, if not SQLite.
    pub fn database_url(&self, name: &str) -> Option<&str> {
        self.opts.database_urls.get(name).map(String::as_str)
    }

    /// The log file of a service (or `nats`).
    pub fn log(&self, name: &str) -> PathBuf {
        self.opts.data_dir.join("logs").join(format!("{name}.log"))
    }

    /// The process id of a running service.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.children.get(name).and_then(Child::id)
    }

    /// How long a service took from spawn to SERVING at its last start.
    pub fn startup(&self, name: &str) -> Option<Duration> {
        self.startup.get(name).copied()
    }

    /// A service's first start. A free port is only free when it was picked: another
    /// process (a parallel test's service) may take it before ours binds. Then ours exits
    /// with "in use" and starts again on a new free port (nothing depends on a port before
    /// its process is SERVING; services start in dependency order).
    async fn start_first(&mut self, name: &str) -> Result<(), StartError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.start_one(name).await {
                Err(StartError::Start(why))
                    if attempts < 4
                        && matches!(self.opts.ports, Ports::Free)
                        && why.contains("in use") =>
                {
                    self.kill(name).await;
                    self.ports.insert(name.to_string(), free_port()?);
                    self.metrics_ports.insert(name.to_string(), free_port()?);
                }
                other => return other,
            }
        }
    }

    async fn start_one(&mut self, name: &str) -> Result<(), StartError> {
        let service = base_name(name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log(name))?;
        let started = Instant::now();
        let mut cmd = if service == "nats" {
            let Nats::Start { bin, .. } = &self.opts.nats else {
                return Err(StartError::Start("this system does not run NATS".into()));
            };
            let mut c = Command::new(bin);
            c.arg("-c")
                .arg(self.opts.data_dir.join(format!("{name}.conf")));
            c
        } else {
            let mut c = match (&self.opts.marketing, service == MARKETING.0) {
                (Some(python), true) => {
                    let mut c = Command::new(python);
                    c.args(["-m", "fd_marketing"]).env("PYTHONUNBUFFERED", "1");
                    c
                }
                _ => Command::new(self.opts.bin_dir.join(service)),
            };
            let payment = self.urls("payment");
            // Nothing of the caller's own service environment leaks in; `opts.env` says
            // what the system's services get.
            c.env_remove("DATABASE_URL")
                .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
                .env_remove("OTEL_SERVICE_NAME")
                .env("DATA_DIR", &self.opts.data_dir)
                .envs(service_env(
                    service,
                    &self.addr(name),
                    &self.nats_url,
                    Some(&payment),
                ))
                // Every service trusts the issuer; order calls payment as itself.
                .envs(self.issuer.service_env())
                .env("AUTH_TOKEN_URL", self.issuer.token_url())
                .env("AUTH_CLIENT_SECRET", &self.order_secret)
                .env(
                    "METRICS_ADDR",
                    format!(
                        "127.0.0.1:{}",
                        self.metrics_ports.get(name).copied().unwrap_or(0)
                    ),
                )
                // Each service is its own NATS user with only its grants.
                .env_remove("NATS_NKEY_SEED")
                .envs(
                    self.nats_auth
                        .as_ref()
                        .map(|a| a.service_env(service))
                        .unwrap_or_default(),
                )
                .envs(self.opts.env.iter().cloned());
            if let Some(url) = self.opts.database_urls.get(service) {
                c.env("DATABASE_URL", url);
            }
            c
        };
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| StartError::Start(format!("cannot start {name}: {e}")))?;
        self.children.insert(name.to_string(), child);
        let ready = if service == "nats" {
            let node = name
                .strip_prefix("nats-")
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(1);
            let port = self
                .nats_ports
                .get(node - 1)
                .map_or(NATS_DEFAULT_PORT, |(p, _)| *p);
            wait_until(self.opts.start_timeout, || async move {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
            })
            .await
        } else {
            // Asks for this service by name: whatever else took the port answers
            // SERVICE_UNKNOWN (or nothing), not SERVING. Stops waiting once ours has exited.
            let url = self.url(name);
            let health_name = health_name(service);
            let deadline = Instant::now() + self.opts.start_timeout;
            loop {
                if serving_as(url.clone(), &health_name).await {
                    break true;
                }
                let exited = self
                    .children
                    .get_mut(name)
                    .is_none_or(|c| matches!(c.try_wait(), Ok(Some(_))));
                if exited || Instant::now() >= deadline {
                    break false;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        };
        if !ready {
            let exited = match self.children.get_mut(name).map(Child::try_wait) {
                Some(Ok(Some(status))) => format!("exited ({status})"),
                _ => "did not become SERVING".to_string(),
            };
            let tail = std::fs::read_to_string(self.log(name))
                .map(|s| {
                    let lines: Vec<&str> = s.lines().collect();
                    lines[lines.len().saturating_sub(5)..].join("\n  ")
                })
                .unwrap_or_default();
            return Err(StartError::Start(format!(
                "{name} {exited}; last lines of {}:\n  {tail}",
                self.log(name).display()
            )));
        }
        self.startup.insert(name.to_string(), started.elapsed());
        Ok(())
    }

    /// SIGKILL: no shutdown, no flush — a crash (`nats` too, if this system runs it).
    pub async fn kill(&mut self, name: &str) {
        if let Some(mut c) = self.children.remove(name) {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
    }

    /// Kills (if running) and starts a service, a replica (`order-2`) or a NATS server
    /// (`nats`, `nats-2`) again: same port, same data.
    pub async fn restart(&mut self, name: &str) -> Result<(), StartError> {
        if !self.processes().iter().any(|p| p == name) {
            return Err(StartError::Start(format!("unknown process {name}")));
        }
        self.kill(name).await;
        self.start_one(name).await
    }

    /// SIGTERM to one process; waits up to 10 s for it to finish its in-flight work.
    pub async fn terminate(&mut self, name: &str) {
        if let Some(c) = self.children.remove(name) {
            sigterm(&c).await;
            wait_or_kill(c).await;
        }
    }

    /// Stops everything gracefully: services (all at once), then NATS.
    pub async fn stop(mut self) {
        let names: Vec<String> = self.children.keys().cloned().collect();
        let services: Vec<Child> = names
            .iter()
            .filter(|n| base_name(n) != "nats")
            .filter_map(|name| self.children.remove(name))
            .collect();
        for c in &services {
            sigterm(c).await;
        }
        for c in services {
            wait_or_kill(c).await;
        }
        for name in names.iter().filter(|n| base_name(n) == "nats") {
            self.terminate(name).await;
        }
    }

    /// Waits until one of the processes exits on its own; returns its name.
    pub async fn wait_any_exit(&mut self) -> String {
        loop {
            for (name, child) in &mut self.children {
                if let Ok(Some(_)) = child.try_wait() {
                    return name.clone();
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The name of replica `r` (from 0) of `service`: `order`, `order-2`, ...; `nats`, `nats-2`.
pub fn instance_name(service: &str, r: usize) -> String {
    if r == 0 {
        service.to_string()
    } else {
        format!("{service}-{}", r + 1)
    }
}

/// The service (or `nats`) an instance name belongs to.
pub fn base_name(instance: &str) -> &str {
    match instance.rsplit_once('-') {
        Some((base, n)) if n.parse::<usize>().is_ok() => base,
        _ => instance,
    }
}

/// Writes a file only its owner may read (credentials).
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(contents.as_bytes())
}

async fn sigterm(child: &Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
    }
}

/// Waits up to 10 s for `child` to exit, then kills it.
async fn wait_or_kill(mut child: Child) {
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

/// True if a plain HTTP GET of `url` answers 200 (the gateway's `/healthz`).
async fn http_ok(url: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let Ok(mut s) = tokio::net::TcpStream::connect(host).await else {
        return false;
    };
    let req = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 16];
    let n = s.read(&mut head).await.unwrap_or(0);
    head[..n].starts_with(b"HTTP/1.1 200")
}

/// The name a service's health check reports it under (`fooddelivery.store.v1.StoreService`).
pub fn health_name(service: &str) -> String {
    let mut chars = service.chars();
    let title: String = chars
        .next()
        .map(|c| c.to_ascii_uppercase())
        .into_iter()
        .chain(chars)
        .collect();
    format!("fooddelivery.{service}.v1.{title}Service")
}

/// True once the gRPC health check of `url` answers SERVING (the server as a whole).
pub async fn serving(url: String) -> bool {
    serving_as(url, "").await
}

/// True once the gRPC health check of `url` answers SERVING for `service` (a full gRPC
/// service name; empty for the server as a whole).
pub async fn serving_as(url: String, service: &str) -> bool {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(url) else {
        return false;
    };
    let Ok(channel) = endpoint.connect().await else {
        return false;
    };
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .is_ok_and(|r| r.into_inner().status == 1)
}

async fn wait_until<F, Fut>(timeout: Duration, mut ready: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ready().await {
            return true;
        }
        // Short: `make bench` reports start-to-SERVING from this loop.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

/// What listens on a NATS port, read from the `INFO` line a NATS server sends first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatsProbe {
    /// Nothing listens.
    Free,
    /// A NATS server: its version and whether JetStream is on.
    Nats {
        /// `2.10.22`.
        version: String,
        /// JetStream enabled.
        jetstream: bool,
    },
    /// Something that is not NATS.
    Other,
}

/// Looks at what listens on loopback `port`.
pub async fn probe_nats(port: u16) -> NatsProbe {
    use tokio::io::AsyncBufReadExt;
    let Ok(Ok(stream)) = tokio::time::timeout(
        Duration::from_millis(500),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    else {
        return NatsProbe::Free;
    };
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(stream);
    // A NATS server sends INFO as soon as it accepts, but a loaded machine (CI, with a
    // PostgreSQL being initialised beside it) once took longer than a second: only a listener
    // that never speaks waits this long.
    match tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line)).await {
        Ok(Ok(_)) => {}
        _ => return NatsProbe::Other,
    }
    let Some(json) = line.strip_prefix("INFO ") else {
        return NatsProbe::Other;
    };
    let info: serde_json::Value = serde_json::from_str(json.trim()).unwrap_or_default();
    NatsProbe::Nats {
        version: info["version"].as_str().unwrap_or("").to_string(),
        jetstream: info["jetstream"].as_bool().unwrap_or(false),
    }
}

/// Decides which NATS `make run` uses when `NATS_URL` is not set: a suitable server already
/// on `port` (4222) is reused; otherwise one is started (on `port` if it is free, else on a
/// free port). The message says what was chosen and why.
pub async fn choose_nats(bin: PathBuf, min_version: (u64, u64), port: u16) -> (Nats, String) {
    let default_port = port;
    match probe_nats(default_port).await {
        NatsProbe::Free => (
            Nats::Start {
                bin,
                port: Some(default_port),
            },
            format!("starting nats-server on {default_port}"),
        ),
        NatsProbe::Nats { version, jetstream }
            if jetstream
                && fd_chassis::nats::parse_version(&version).is_some_and(|v| v >= min_version) =>
        {
            (
                Nats::External(format!("nats://127.0.0.1:{default_port}")),
                format!(
                    "reusing the NATS server {version} with JetStream already on port {default_port}"
                ),
            )
        }
        other => {
            let why = match other {
                NatsProbe::Nats { version, jetstream: false } => {
                    format!("the NATS server {version} on {default_port} has no JetStream")
                }
                NatsProbe::Nats { version, .. } => format!(
                    "the NATS server {version} on {default_port} is older than {}.{}",
                    min_version.0, min_version.1
                ),
                _ => format!("port {default_port} is used by something that is not NATS"),
            };
            let port = free_port().unwrap_or(0);
            (
                Nats::Start {
                    bin,
                    port: (port != 0).then_some(port),
                },
                format!("{why}; starting our own nats-server on port {port}"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_suitable_nats_is_reused_and_anything_else_is_named() {
        let nats = crate::NatsServer::start().await;
        let port: u16 = nats
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port");
        let bin = crate::nats_server_bin();
        let (choice, why) = choose_nats(bin.clone(), (2, 10), port).await;
        assert!(
            matches!(&choice, Nats::External(url) if url.ends_with(&format!(":{port}"))),
            "{choice:?}: {why}"
        );
        assert!(why.contains("reusing the NATS server"), "{why}");

        // Pretend we need a newer server than this one.
        let (choice, why) = choose_nats(bin.clone(), (99, 0), port).await;
        assert!(
            matches!(choice, Nats::Start { port: Some(p), .. } if p != port),
            "{why}"
        );
        assert!(why.contains("is older than 99.0"), "{why}");

        // Something that is not NATS on the port.
        let other = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let other_port = other.local_addr().expect("addr").port();
        let (choice, why) = choose_nats(bin.clone(), (2, 10), other_port).await;
        assert!(
            matches!(choice, Nats::Start { port: Some(p), .. } if p != other_port),
            "{why}"
        );
        assert!(why.contains("not NATS"), "{why}");

        // Nothing there: start one on that very port.
        drop(other);
        let (choice, _) = choose_nats(bin, (2, 10), other_port).await;
        assert!(matches!(choice, Nats::Start { port: Some(p), .. } if p == other_port));
    }

    #[tokio::test]
    async fn readiness_asks_for_the_service_by_name() {
        // Another gRPC server on the port (a parallel test's payment, say) is SERVING as a
        // whole; it must not pass for the store.
        let (health, service) = tonic_health::server::health_reporter();
        health
            .set_service_status(health_name("payment"), tonic_health::ServingStatus::Serving)
            .await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        assert!(serving(url.clone()).await);
        assert!(serving_as(url.clone(), &health_name("payment")).await);
        assert!(!serving_as(url, &health_name("store")).await);
        assert_eq!(health_name("store"), "fooddelivery.store.v1.StoreService");
    }

    #[test]
    fn a_taken_service_port_is_named_in_one_line() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("dir");
        let mut opts = Options::new("/nonexistent", dir.path());
        opts.ports = Ports::Defaults(HashMap::from([("ORDER_PORT".to_string(), port)]));
        opts.nats = Nats::External("nats://127.0.0.1:1".into());
        let err = rt
            .block_on(ProcessSystem::start(opts))
            .expect_err("port taken");
        let msg = err.to_string();
        assert_eq!(
            msg,
            format!("port {port} (order) is already in use by another process; stop it or set ORDER_PORT=<free port>")
        );
        assert_eq!(msg.lines().count(), 1);
    }
}
