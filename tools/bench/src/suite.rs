//! `make bench`: the ceiling, PlaceOrder end to end on SQLite and PostgreSQL, event
//! propagation, memory and start-up of every service, in one run, with ratios against the
//! ceiling measured in the same run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use fd_proto::common::v1::Money;
use fd_proto::order::v1 as order;
use fd_proto::order::v1::order_service_client::OrderServiceClient;
use fd_proto::order::v2 as order_v2;
use fd_proto::store::v1 as store;
use fd_proto::store::v1::store_service_client::StoreServiceClient;
use fd_testkit::issuer::{with_token, AuthChannel};
use fd_testkit::system::{Options, ProcessSystem};
use fd_testkit::{Backend, TestDb};
use serde::Serialize;
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use crate::loadgen::{self, LoadConfig, Report};

pub const SERVICES: [&str; 5] = ["payment", "order", "store", "delivery", "notification"];

/// The consumers whose backlog the bench samples under load: marketing's (Python) and, as the
/// baseline of the same run, store's (Rust) — both read every OrderPlaced.
pub const LAG_CONSUMERS: [(&str, &str); 2] = [
    ("ORDER", "marketing-order-history"),
    ("ORDER", "store-tickets"),
];

/// How far a consumer fell behind during the PlaceOrder runs: messages it had not processed
/// yet (pending + unacknowledged), sampled every 100 ms, and how long it took to catch up
/// after the load stopped.
#[derive(Debug, Clone, Serialize)]
pub struct ConsumerLag {
    pub backend: String,
    pub consumer: String,
    pub max_behind: u64,
    pub mean_behind: f64,
    pub behind_at_end: u64,
    pub catch_up_s: f64,
    pub processed: u64,
}

#[derive(Debug, Clone)]
pub struct SuiteConfig {
    pub bin_dir: PathBuf,
    pub duration: Duration,
    pub warmup: Duration,
    pub propagation_rate: f64,
    pub concurrencies: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceStats {
    pub backend: String,
    pub service: String,
    pub start_to_serving_ms: f64,
    pub rss_idle_mib: f64,
    pub rss_after_load_mib: f64,
}

/// CPU time of one process (or group) over a PlaceOrder run, until every consumer caught up.
#[derive(Debug, Clone, Serialize)]
pub struct CpuShare {
    pub backend: String,
    pub process: String,
    pub cpu_s: f64,
    pub per_1000_orders_s: f64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct SuiteReport {
    pub ceiling: Vec<Report>,
    pub place_order: Vec<Report>,
    pub propagation: Vec<Report>,
    pub services: Vec<ServiceStats>,
    /// Consumer backlogs under the PlaceOrder load (marketing's against store's).
    pub consumer_lag: Vec<ConsumerLag>,
    /// CPU-seconds per 1,000 orders, per process, at 64 in flight (from /proc).
    pub cpu: Vec<CpuShare>,
    /// Microseconds to verify a token seen for the first time (EdDSA signature, claims), as
    /// every service does; measured in this process against a real issuer's JWKS.
    pub token_verify_us: f64,
    /// Microseconds for a token already verified (the verifier remembers it until it expires).
    pub token_repeat_us: f64,
}

/// Time to verify a new token and a repeated one, in µs (medians of 5 rounds of 2,000).
async fn token_verification() -> anyhow::Result<(f64, f64)> {
    let issuer = fd_testkit::issuer::Issuer::start().await;
    let verifier = fd_chassis::auth::Verifier::new(fd_chassis::auth::AuthConfig {
        jwks_url: issuer.jwks_url(),
        issuer: issuer.url.clone(),
        audience: fd_testkit::issuer::AUDIENCE.into(),
        leeway: Duration::from_secs(30),
    })
    .await;
    let median = |mut r: Vec<f64>| {
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    };
    let (mut cold, mut hot) = (Vec::new(), Vec::new());
    for round in 0..5 {
        // Distinct subjects: each token is new to the verifier.
        let tokens: Vec<String> = (0..2_000)
            .map(|i| issuer.token_for(&format!("bench-{round}-{i}"), &["customer"]))
            .collect();
        let started = Instant::now();
        for t in &tokens {
            verifier
                .verify(t)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        cold.push(started.elapsed().as_secs_f64() * 1e6 / 2_000.0);
        let started = Instant::now();
        for _ in 0..2_000 {
            verifier
                .verify(&tokens[0])
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        hot.push(started.elapsed().as_secs_f64() * 1e6 / 2_000.0);
    }
    Ok((median(cold), median(hot)))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// A process of the ceiling measurement (the bare tonic echo chain); stopped on drop.
struct Proc {
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        // SIGTERM for a graceful stop, then make sure.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_serving(url: &str, deadline: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    let channel = Channel::from_shared(url.to_string())?.connect_lazy();
    let mut client = HealthClient::new(channel);
    loop {
        if let Ok(r) = client
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
        {
            if r.into_inner().status == 1 {
                return Ok(());
            }
        }
        if start.elapsed() > deadline {
            anyhow::bail!("{url} did not become SERVING in {deadline:?}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The five services as processes (release binaries), one database each, one nats-server:
/// the one launcher (`fd_testkit::system`) with production-like logging.
struct System {
    sys: ProcessSystem,
    _dbs: Vec<TestDb>,
    _dir: tempfile::TempDir,
}

impl System {
    /// `channel` calling as `who` with `role` (a token of this system's issuer).
    fn as_(&self, channel: Channel, who: &str, role: &str) -> AuthChannel {
        with_token(channel, &self.sys.issuer().token_for(who, &[role]))
    }

    async fn start(cfg: &SuiteConfig, backend: Backend) -> anyhow::Result<System> {
        let dir = tempfile::Builder::new().prefix("fd-bench-").tempdir()?;
        // Warnings only: a log line per request is not free.
        let mut opts = Options::new(&cfg.bin_dir, dir.path()).env("RUST_LOG", "warn");
        let mut dbs = Vec::new();
        let marketing = opts
            .marketing
            .is_some()
            .then_some(fd_testkit::system::MARKETING.0);
        for name in SERVICES.into_iter().chain(marketing) {
            let db = TestDb::new(backend, name).await;
            opts.database_urls.insert(name.to_string(), db.url.clone());
            dbs.push(db);
        }
        let sys = ProcessSystem::start(opts)
            .await
            .with_context(|| format!("starting the system (logs in {})", dir.path().display()))?;
        Ok(System {
            sys,
            _dbs: dbs,
            _dir: dir,
        })
    }

    fn url(&self, name: &str) -> String {
        self.sys.url(name)
    }

    /// The services running: the five Rust ones and marketing (when its virtualenv exists).
    fn services(&self) -> Vec<String> {
        self.sys
            .processes()
            .into_iter()
            .filter(|p| p != "nats")
            .collect()
    }

    fn rss(&self) -> Vec<(String, f64)> {
        self.services()
            .iter()
            .map(|name| {
                let pid = self.sys.pid(name).unwrap_or(0);
                (name.to_string(), rss_mib(pid))
            })
            .collect()
    }
}

/// Messages each of `consumers` has not processed yet, and how many it processed.
async fn behind(
    js: &async_nats::jetstream::Context,
    consumers: &[(&str, &str)],
) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for &(stream, name) in consumers {
        let info = async {
            let s = js.get_stream(stream).await.ok()?;
            let mut c: async_nats::jetstream::consumer::PullConsumer =
                s.get_consumer(name).await.ok()?;
            c.info().await.ok().cloned()
        }
        .await;
        out.push(info.map_or((0, 0), |i| {
            (
                i.num_pending + i.num_ack_pending as u64,
                i.ack_floor.consumer_sequence,
            )
        }));
    }
    out
}

/// utime + stime of a process in seconds (/proc/PID/stat), 0 if it is gone.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name may hold spaces: the fields after it start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of the man page; index 0 here is field 3 (state).
    (ticks(11) + ticks(12)) / clock_ticks()
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux unless told otherwise).
fn clock_ticks() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The PIDs of every PostgreSQL server process on this machine (the test cluster).
fn postgres_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .collect()
}

/// Messages not yet processed over every durable consumer of every stream.
async fn pending_everywhere(js: &async_nats::jetstream::Context) -> u64 {
    use tokio_stream::StreamExt as _;
    let mut total = 0;
    let mut names = js.stream_names();
    let mut streams = Vec::new();
    while let Some(Ok(n)) = names.next().await {
        streams.push(n);
    }
    for stream in streams {
        let Ok(s) = js.get_stream(&stream).await else {
            continue;
        };
        let mut consumers = s.consumers();
        while let Some(Ok(info)) = consumers.next().await {
            total += info.num_pending + info.num_ack_pending as u64;
        }
    }
    total
}

/// CPU-seconds per 1,000 orders: PlaceOrder v1 at 64 in flight for the run's duration, CPU
/// counted from its start until every consumer caught up, per process (the services, NATS,
/// PostgreSQL, the load generator itself).
async fn cpu_per_order(
    cfg: &SuiteConfig,
    sys: &System,
    js: &async_nats::jetstream::Context,
    label: &str,
) -> anyhow::Result<Vec<CpuShare>> {
    let mut groups: Vec<(String, Vec<u32>)> = sys
        .sys
        .processes()
        .into_iter()
        .filter_map(|p| sys.sys.pid(&p).map(|pid| (p, vec![pid])))
        .collect();
    if label == "PostgreSQL" {
        groups.push(("postgresql".into(), postgres_pids()));
    }
    groups.push(("load generator (fd-bench)".into(), vec![std::process::id()]));
    let sample = |groups: &[(String, Vec<u32>)]| -> Vec<f64> {
        groups
            .iter()
            .map(|(_, pids)| pids.iter().map(|p| cpu_seconds(*p)).sum())
            .collect()
    };
    let channel = Channel::from_shared(sys.url("order"))?.connect().await?;
    let client = OrderServiceClient::new(sys.as_(channel, "bench", "customer"));
    let placed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let before = sample(&groups);
    let counter = placed.clone();
    let load = LoadConfig {
        warmup: Duration::ZERO,
        ..closed_loop(cfg, 64)
    };
    loadgen::run(&format!("CPU per order, {label}"), load, move || {
        let (mut c, counter) = (client.clone(), counter.clone());
        async move {
            c.place_order(place_request("bench"))
                .await
                .map(|_| {
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                })
                .map_err(|s| rpc_error(&s))
        }
    })
    .await;
    let waited = Instant::now();
    while pending_everywhere(js).await > 0 && waited.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = sample(&groups);
    let orders = placed.load(std::sync::atomic::Ordering::Relaxed).max(1) as f64;
    Ok(groups
        .into_iter()
        .zip(before.iter().zip(&after))
        .map(|((name, _), (b, a))| CpuShare {
            backend: label.into(),
            process: name,
            cpu_s: a - b,
            per_1000_orders_s: (a - b) / orders * 1000.0,
        })
        .collect())
}

/// A valid PlaceOrder with a fresh idempotency key (two pizzas, 25.00 EUR).
pub fn place_request(customer: &str) -> order::PlaceOrderRequest {
    order::PlaceOrderRequest {
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        customer_id: customer.to_string(),
        store_id: "store-1".into(),
        items: vec![order::LineItem {
            menu_item_id: "pizza".into(),
            name: "Margherita".into(),
            quantity: 2,
            unit_price: Some(Money {
                amount_minor: 1250,
                currency_code: "EUR".into(),
            }),
        }],
        delivery_address: "1 Main Street".into(),
    }
}

/// The same order through fooddelivery.order.v2 (ids and quantities; the menu prices them).
pub fn place_request_v2(customer: &str) -> order_v2::PlaceOrderRequest {
    order_v2::PlaceOrderRequest {
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        customer_id: customer.to_string(),
        store_id: "store-1".into(),
        lines: vec![order_v2::OrderLine {
            menu_item_id: "pizza".into(),
            quantity: 2,
        }],
        delivery_address: "1 Main Street".into(),
    }
}

/// `n` requests in flight for the configured duration (after the warm-up).
fn closed_loop(cfg: &SuiteConfig, n: usize) -> LoadConfig {
    LoadConfig {
        concurrency: n,
        rate: None,
        duration: cfg.duration,
        warmup: cfg.warmup,
    }
}

/// A failed call as the load generator records it.
fn rpc_error(s: &tonic::Status) -> String {
    format!("{:?}: {}", s.code(), s.message())
}

/// PlaceOrder v1 at each of `cfg.concurrencies`, one customer for the whole load (who orders
/// does not change the work).
async fn v1_runs(
    cfg: &SuiteConfig,
    client: &OrderServiceClient<AuthChannel>,
    label: &str,
) -> Vec<Report> {
    let mut out = Vec::new();
    for &n in &cfg.concurrencies {
        let c = client.clone();
        let r = loadgen::run(
            &format!("PlaceOrder end to end, {label}"),
            closed_loop(cfg, n),
            move || {
                let mut c = c.clone();
                async move {
                    c.place_order(place_request("bench"))
                        .await
                        .map(|_| ())
                        .map_err(|s| rpc_error(&s))
                }
            },
        )
        .await;
        out.push(r);
    }
    out
}

async fn place_order_runs(
    cfg: &SuiteConfig,
    sys: &System,
    label: &str,
) -> anyhow::Result<Vec<Report>> {
    let channel = Channel::from_shared(sys.url("order"))?.connect().await?;
    // One customer for the whole load: who orders does not change the work.
    let client = OrderServiceClient::new(sys.as_(channel.clone(), "bench", "customer"));
    let mut out = v1_runs(cfg, &client, label).await;
    // Verification under load, right after v1's run at the highest concurrency (which sends
    // one token the services verified once and then remember): the same load with a token
    // never seen before on every call, so order checks a signature and claims every time.
    // There is no switch that turns checking off; a remembered token costs ~0.2 µs, so the
    // pair is PlaceOrder "without" and "with" verification.
    if let Some(&n) = cfg.concurrencies.iter().max() {
        let issuer = sys.sys.issuer();
        let expected = (cfg.duration + cfg.warmup).as_secs_f64() * 4_000.0;
        let tokens: Vec<(
            String,
            tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
        )> = (0..(expected as usize).max(1_000))
            .map(|i| {
                let who = format!("bench-new-{i}");
                let bearer = format!("Bearer {}", issuer.token_for(&who, &["customer"]));
                (who, bearer.parse().expect("a token is ASCII"))
            })
            .collect();
        let tokens = std::sync::Arc::new(tokens);
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = OrderServiceClient::new(channel.clone());
        let r = loadgen::run(
            &format!("PlaceOrder end to end, a new token per call, {label}"),
            closed_loop(cfg, n),
            move || {
                let mut c = c.clone();
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (who, bearer) = tokens[i % tokens.len()].clone();
                async move {
                    let mut req = tonic::Request::new(place_request(&who));
                    req.metadata_mut().insert("authorization", bearer);
                    c.place_order(req)
                        .await
                        .map(|_| ())
                        .map_err(|s| rpc_error(&s))
                }
            },
        )
        .await;
        out.push(r);
    }
    // v2 beside v1 at the highest concurrency, right after v1's run there: the same work,
    // priced from the menu alone.
    if let Some(&n) = cfg.concurrencies.iter().max() {
        let c = order_v2::order_service_client::OrderServiceClient::new(
            sys.as_(channel, "bench", "customer"),
        );
        out.push(
            loadgen::run(
                &format!("PlaceOrder v2 end to end, {label}"),
                closed_loop(cfg, n),
                move || {
                    let mut c = c.clone();
                    async move {
                        c.place_order(place_request_v2("bench"))
                            .await
                            .map(|_| ())
                            .map_err(|s| rpc_error(&s))
                    }
                },
            )
            .await,
        );
    }
    Ok(out)
}

/// Reply of PlaceOrder → the store's ticket exists (OrderPlaced: outbox, JetStream, store's
/// consumer; polled with AcceptOrder, every millisecond for 20 ms, then every 5 ms), then the owner's AcceptOrder reply → the status view shows ACCEPTED (OrderAccepted:
/// store's outbox, JetStream, order's consumer, pushed by WatchOrder).
async fn propagation(cfg: &SuiteConfig, sys: &System, label: &str) -> anyhow::Result<Vec<Report>> {
    propagation_named(cfg, sys, label, "").await
}

/// [`propagation`] with `suffix` after each report's name.
async fn propagation_named(
    cfg: &SuiteConfig,
    sys: &System,
    label: &str,
    suffix: &str,
) -> anyhow::Result<Vec<Report>> {
    let orders = OrderServiceClient::new(sys.as_(
        Channel::from_shared(sys.url("order"))?.connect().await?,
        "propagation",
        "customer",
    ));
    let stores = StoreServiceClient::new(sys.as_(
        Channel::from_shared(sys.url("store"))?.connect().await?,
        "olga",
        "owner",
    ));
    let ticket: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let view: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let (t2, v2) = (ticket.clone(), view.clone());
    let base = loadgen::run(
        "propagation",
        LoadConfig {
            concurrency: 4096,
            rate: Some(cfg.propagation_rate),
            duration: cfg.duration,
            warmup: cfg.warmup,
        },
        move || {
            let (mut orders, mut stores, ticket, view) =
                (orders.clone(), stores.clone(), t2.clone(), v2.clone());
            async move {
                let placed = orders
                    .place_order(place_request("propagation"))
                    .await
                    .map_err(|s| s.to_string())?
                    .into_inner();
                let t0 = Instant::now();
                let id = placed.order.map(|o| o.order_id).ok_or("no order")?;
                let mut watch = orders
                    .watch_order(order::WatchOrderRequest {
                        order_id: id.clone(),
                    })
                    .await
                    .map_err(|s| s.to_string())?
                    .into_inner();
                loop {
                    match stores
                        .accept_order(store::AcceptOrderRequest {
                            order_id: id.clone(),
                        })
                        .await
                    {
                        Ok(_) => break,
                        // Every millisecond for the first 20 ms, then every 5 ms: on a busy
                        // system the probe's own polling must not become the load.
                        Err(s) if s.code() == tonic::Code::NotFound => {
                            let pause = if t0.elapsed() < Duration::from_millis(20) {
                                1
                            } else {
                                5
                            };
                            tokio::time::sleep(Duration::from_millis(pause)).await
                        }
                        Err(s) => return Err(s.to_string()),
                    }
                    if t0.elapsed() > Duration::from_secs(10) {
                        return Err("no ticket within 10 s".into());
                    }
                }
                let t_ticket = t0.elapsed();
                let t1 = Instant::now();
                loop {
                    let next = tokio::time::timeout(Duration::from_secs(10), watch.message())
                        .await
                        .map_err(|_| "no view update within 10 s".to_string())?;
                    match next.map_err(|s| s.to_string())? {
                        Some(u)
                            if u.order.as_ref().is_some_and(|o| {
                                o.store_status == order::StoreStatus::Accepted as i32
                            }) =>
                        {
                            break
                        }
                        Some(_) => continue,
                        None => return Err("watch ended".into()),
                    }
                }
                let t_view = t1.elapsed();
                ticket
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(t_ticket);
                view.lock().unwrap_or_else(|p| p.into_inner()).push(t_view);
                Ok(())
            }
        },
    )
    .await;
    let secs = cfg.duration.as_secs_f64() + cfg.warmup.as_secs_f64();
    let t = ticket.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let v = view.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(vec![
        loadgen::report_from_samples(
            &format!("OrderPlaced → store ticket exists, {label}{suffix}"),
            Some(cfg.propagation_rate),
            &t,
            base.errors,
            secs,
        ),
        loadgen::report_from_samples(
            &format!("OrderAccepted → status view shows it, {label}{suffix}"),
            Some(cfg.propagation_rate),
            &v,
            base.errors,
            secs,
        ),
    ])
}

/// [`propagation`]'s probe (`cfg.propagation_rate` orders/s, each accepted and watched) while
/// plain PlaceOrders make up the rest of `total` orders/s: the hops' latency on a system that
/// is that busy. Also reports the background load itself.
async fn propagation_when_busy(
    cfg: &SuiteConfig,
    sys: &System,
    label: &str,
    total: f64,
) -> anyhow::Result<Vec<Report>> {
    // A fifth of the idle probe's rate: each probed order is also accepted and watched.
    let probe = (cfg.propagation_rate / 5.0).min(total / 2.0).max(1.0);
    let channel = Channel::from_shared(sys.url("order"))?.connect().await?;
    let client = OrderServiceClient::new(sys.as_(channel, "bench", "customer"));
    let name = format!("PlaceOrder beside the probe, {label}");
    let load = LoadConfig {
        concurrency: 4096,
        rate: Some((total - probe).max(1.0)),
        duration: cfg.duration,
        warmup: cfg.warmup,
    };
    let background = tokio::spawn(async move {
        loadgen::run(&name, load, move || {
            let mut c = client.clone();
            async move {
                c.place_order(place_request("bench"))
                    .await
                    .map(|_| ())
                    .map_err(|s| rpc_error(&s))
            }
        })
        .await
    });
    let probed = SuiteConfig {
        propagation_rate: probe,
        ..cfg.clone()
    };
    let mut out = propagation_named(
        &probed,
        sys,
        label,
        &format!(", {total:.0} orders/s in all (50 % of capacity)"),
    )
    .await?;
    out.push(background.await?);
    Ok(out)
}

/// UpdateMenuItem's reply → order prices the item at its new price (MenuItemUpdated: store's
/// outbox, JetStream, order's menu replica), polled with QuoteOrder every millisecond.
async fn menu_propagation(cfg: &SuiteConfig, sys: &System, label: &str) -> anyhow::Result<Report> {
    const ITEMS: u32 = 100;
    let mut owner = StoreServiceClient::new(sys.as_(
        Channel::from_shared(sys.url("store"))?.connect().await?,
        "bench",
        "owner",
    ));
    let orders = order_v2::order_service_client::OrderServiceClient::new(sys.as_(
        Channel::from_shared(sys.url("order"))?.connect().await?,
        "bench",
        "customer",
    ));
    owner
        .create_store(store::CreateStoreRequest {
            store_id: "bench".into(),
            owner_id: "bench".into(),
            name: "Bench Kitchen".into(),
            currency_code: "EUR".into(),
            open: true,
        })
        .await?;
    for i in 0..ITEMS {
        owner
            .create_menu_item(store::CreateMenuItemRequest {
                store_id: "bench".into(),
                menu_item_id: format!("item-{i}"),
                name: format!("Item {i}"),
                description: String::new(),
                price: Some(Money {
                    amount_minor: 100,
                    currency_code: "EUR".into(),
                }),
                available: true,
            })
            .await?;
    }
    let samples: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let counter = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let s2 = samples.clone();
    let base = loadgen::run(
        "menu propagation",
        LoadConfig {
            concurrency: 4096,
            rate: Some(cfg.propagation_rate),
            duration: cfg.duration,
            warmup: cfg.warmup,
        },
        move || {
            let (mut owner, mut orders, samples) = (owner.clone(), orders.clone(), s2.clone());
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move {
                let item = format!("item-{}", n % ITEMS);
                let price = 1_000 + i64::from(n);
                owner
                    .update_menu_item(store::UpdateMenuItemRequest {
                        store_id: "bench".into(),
                        menu_item_id: item.clone(),
                        price: Some(Money {
                            amount_minor: price,
                            currency_code: "EUR".into(),
                        }),
                        ..Default::default()
                    })
                    .await
                    .map_err(|s| s.to_string())?;
                let t0 = Instant::now();
                loop {
                    let q = orders
                        .quote_order(order_v2::QuoteOrderRequest {
                            store_id: "bench".into(),
                            lines: vec![order_v2::OrderLine {
                                menu_item_id: item.clone(),
                                quantity: 1,
                            }],
                        })
                        .await
                        .map_err(|s| s.to_string())?
                        .into_inner();
                    if q.total.is_some_and(|t| t.amount_minor == price) {
                        break;
                    }
                    if t0.elapsed() > Duration::from_secs(10) {
                        return Err("the new price did not reach order within 10 s".into());
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                samples
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(t0.elapsed());
                Ok(())
            }
        },
    )
    .await;
    let secs = cfg.duration.as_secs_f64() + cfg.warmup.as_secs_f64();
    let t = samples.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(loadgen::report_from_samples(
        &format!("MenuItemUpdated → order prices it, {label}"),
        Some(cfg.propagation_rate),
        &t,
        base.errors,
        secs,
    ))
}

async fn ceiling(cfg: &SuiteConfig, echo_bin: &Path) -> anyhow::Result<Vec<Report>> {
    let logs = std::env::temp_dir();
    let (p2, p1, p0) = (free_port()?, free_port()?, free_port()?);
    let mut procs = Vec::new();
    for (name, port, next) in [
        ("hop2", p2, None),
        ("hop1", p1, Some(p2)),
        ("echo", p0, None),
    ] {
        let mut args = vec![
            "echo".to_string(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
        ];
        if let Some(n) = next {
            args.push("--next".into());
            args.push(format!("http://127.0.0.1:{n}"));
        }
        let out = std::fs::File::create(logs.join(format!("fd-bench-{name}.log")))?;
        let child = Command::new(echo_bin)
            .args(&args)
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out))
            .spawn()?;
        let url = format!("http://127.0.0.1:{port}");
        procs.push(Proc { child });
        wait_serving(&url, Duration::from_secs(10)).await?;
    }
    let mut out = Vec::new();
    let echo = HealthClient::new(
        Channel::from_shared(format!("http://127.0.0.1:{p0}"))?
            .connect()
            .await?,
    );
    let chain = HealthClient::new(
        Channel::from_shared(format!("http://127.0.0.1:{p1}"))?
            .connect()
            .await?,
    );
    let max = cfg.concurrencies.iter().copied().max().unwrap_or(64);
    out.push(check_load("ceiling: bare tonic service", echo, max, cfg).await);
    for &n in &cfg.concurrencies {
        out.push(check_load("ceiling: bare two-hop tonic chain", chain.clone(), n, cfg).await);
    }
    drop(procs);
    Ok(out)
}

async fn check_load(
    name: &str,
    client: HealthClient<Channel>,
    n: usize,
    cfg: &SuiteConfig,
) -> Report {
    loadgen::run(
        name,
        LoadConfig {
            concurrency: n,
            rate: None,
            duration: cfg.duration,
            warmup: cfg.warmup,
        },
        move || {
            let mut c = client.clone();
            async move {
                c.check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(|_| ())
                .map_err(|s| s.to_string())
            }
        },
    )
    .await
}

pub async fn run(cfg: SuiteConfig, echo_bin: &Path) -> anyhow::Result<SuiteReport> {
    let mut report = SuiteReport {
        ceiling: ceiling(&cfg, echo_bin).await?,
        ..SuiteReport::default()
    };
    (report.token_verify_us, report.token_repeat_us) = token_verification().await?;
    for (backend, label) in [
        (Backend::Sqlite, "SQLite"),
        (Backend::Postgres, "PostgreSQL"),
    ] {
        let sys = System::start(&cfg, backend).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle = sys.rss();
        // Propagation first, on an idle system: after the PlaceOrder runs the consumers have
        // thousands of events to catch up on, which is a backlog, not propagation.
        report
            .propagation
            .extend(propagation(&cfg, &sys, label).await?);
        report
            .propagation
            .push(menu_propagation(&cfg, &sys, label).await?);
        // Sample the consumers' backlog while PlaceOrder runs at full speed.
        let js = async_nats::jetstream::new(
            fd_chassis::nats::connect_url(&sys.sys.nats_admin_url())
                .await
                .map_err(|e| anyhow::anyhow!("NATS as admin: {e}"))?,
        );
        // Marketing's consumer when marketing runs (FD_MARKETING_PYTHON= turns it off).
        let consumers: Vec<(&str, &str)> = LAG_CONSUMERS
            .into_iter()
            .filter(|(_, c)| {
                sys.services()
                    .iter()
                    .any(|s| c.starts_with(&format!("{s}-")))
            })
            .collect();
        let before = behind(&js, &consumers).await;
        if let Some(i) = before.iter().position(|b| *b == (0, 0)) {
            anyhow::bail!(
                "no consumer {} to sample: its service has not consumed yet",
                consumers[i].1
            );
        }
        let samples = Arc::new(Mutex::new(Vec::<Vec<(u64, u64)>>::new()));
        let sampling = {
            let (samples, js, consumers) = (samples.clone(), js.clone(), consumers.clone());
            tokio::spawn(async move {
                loop {
                    let now = behind(&js, &consumers).await;
                    samples.lock().expect("samples").push(now);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        report
            .place_order
            .extend(place_order_runs(&cfg, &sys, label).await?);
        sampling.abort();
        let end = behind(&js, &consumers).await;
        let stopped = Instant::now();
        let mut caught_up = vec![None; consumers.len()];
        while caught_up.iter().any(Option::is_none) && stopped.elapsed() < Duration::from_secs(300)
        {
            for (i, (left, _)) in behind(&js, &consumers).await.into_iter().enumerate() {
                if left == 0 && caught_up[i].is_none() {
                    caught_up[i] = Some(stopped.elapsed().as_secs_f64());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let done = behind(&js, &consumers).await;
        let samples = samples.lock().expect("samples").clone();
        for (i, (_, consumer)) in consumers.iter().enumerate() {
            let series: Vec<u64> = samples.iter().map(|s| s[i].0).collect();
            report.consumer_lag.push(ConsumerLag {
                backend: label.into(),
                consumer: consumer.to_string(),
                max_behind: series.iter().copied().max().unwrap_or(0),
                mean_behind: series.iter().sum::<u64>() as f64 / series.len().max(1) as f64,
                behind_at_end: end[i].0,
                catch_up_s: caught_up[i].unwrap_or(f64::NAN),
                processed: done[i].1.saturating_sub(before[i].1),
            });
        }
        report
            .cpu
            .extend(cpu_per_order(&cfg, &sys, &js, label).await?);
        // Let consumers and relays finish what the load left them.
        tokio::time::sleep(Duration::from_secs(2)).await;
        // Propagation again while orders arrive at half of the capacity PlaceOrder just
        // showed (v1, most in flight): how far events lag on a busy system, not an idle one.
        if let Some(capacity) = capacity(&report.place_order, label) {
            report
                .propagation
                .extend(propagation_when_busy(&cfg, &sys, label, capacity * 0.5).await?);
        }
        let after = sys.rss();
        for (name, ((_, i), (_, a))) in sys.services().iter().zip(idle.iter().zip(after.iter())) {
            let startup = sys.sys.startup(name).unwrap_or_default();
            report.services.push(ServiceStats {
                backend: label.into(),
                service: name.clone(),
                start_to_serving_ms: startup.as_secs_f64() * 1000.0,
                rss_idle_mib: *i,
                rss_after_load_mib: *a,
            });
        }
    }
    Ok(report)
}

/// One backend's PlaceOrder at each of `cfg.concurrencies`, then its CPU per 1,000 orders:
/// the part of the suite a change to the order path moves (`fd-bench profile`; attach a
/// profiler to the processes meanwhile).
pub async fn profile(cfg: SuiteConfig, backend: Backend) -> anyhow::Result<SuiteReport> {
    let label = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    let sys = System::start(&cfg, backend).await?;
    for name in sys.sys.processes() {
        eprintln!("{name}: pid {}", sys.sys.pid(&name).unwrap_or(0));
    }
    let js = async_nats::jetstream::new(
        fd_chassis::nats::connect_url(&sys.sys.nats_admin_url())
            .await
            .map_err(|e| anyhow::anyhow!("NATS as admin: {e}"))?,
    );
    let channel = Channel::from_shared(sys.url("order"))?.connect().await?;
    let client = OrderServiceClient::new(sys.as_(channel, "bench", "customer"));
    let propagation = if cfg.propagation_rate > 0.0 {
        propagation(&cfg, &sys, label).await?
    } else {
        Vec::new()
    };
    Ok(SuiteReport {
        propagation,
        place_order: v1_runs(&cfg, &client, label).await,
        cpu: cpu_per_order(&cfg, &sys, &js, label).await?,
        ..SuiteReport::default()
    })
}

/// PlaceOrder v1's throughput at the most requests in flight on `label`'s backend.
fn capacity(runs: &[Report], label: &str) -> Option<f64> {
    runs.iter()
        .filter(|p| p.name == format!("PlaceOrder end to end, {label}"))
        .max_by_key(|p| p.concurrency)
        .map(|p| p.throughput)
}

/// Issue 19's targets against this run: (what, measured, target, met).
pub fn targets(r: &SuiteReport) -> Vec<(String, String, String, bool)> {
    let mut out = Vec::new();
    let chain_64 = r
        .ceiling
        .iter()
        .find(|c| c.name.contains("two-hop") && c.concurrency == 64)
        .map(|c| c.throughput);
    let run = |label: &str, n: usize| {
        r.place_order
            .iter()
            .find(|p| p.name == format!("PlaceOrder end to end, {label}") && p.concurrency == n)
    };
    // The baseline (2026-11-29): 718 orders/s on SQLite, 759 on PostgreSQL, with the
    // bare chain at 30.1k/s. The absolute floors are from that machine on that day; the share
    // of the chain measured in the same run is the same target in a form a slower or busier
    // machine cannot fail by itself: ≥ 7 % on SQLite (the issue's own), and twice PostgreSQL's
    // 759 / 30,100 = 2.52 %, 5.0 %.
    for (label, floor, times, share_floor) in [
        ("SQLite", 2_200.0, "3×", 7.0),
        ("PostgreSQL", 1_518.0, "2×", 5.0),
    ] {
        if let Some(p) = run(label, 64) {
            out.push((
                format!("PlaceOrder, {label}, 64 in flight ({times} the issue's baseline)"),
                format!("{:.0}/s", p.throughput),
                format!("≥ {floor:.0}/s"),
                p.throughput >= floor,
            ));
            if let Some(chain) = chain_64 {
                let share = p.throughput / chain * 100.0;
                out.push((
                    format!("PlaceOrder, {label}, 64 in flight, share of the bare chain"),
                    format!("{share:.1} %"),
                    format!("≥ {share_floor:.0} %"),
                    share >= share_floor,
                ));
            }
        }
        if let Some(p) = run(label, 16) {
            let p99 = p.p99_us as f64 / 1000.0;
            out.push((
                format!("PlaceOrder p99, {label}, 16 in flight"),
                format!("{p99:.1} ms"),
                "≤ 50 ms".into(),
                p99 <= 50.0,
            ));
        }
    }
    out
}

/// The tables `make bench` prints.
pub fn print(r: &SuiteReport) {
    let chain_at = |n: usize| {
        r.ceiling
            .iter()
            .find(|c| c.name.contains("two-hop") && c.concurrency == n)
            .map(|c| c.throughput)
    };
    println!("{}", loadgen::header());
    for c in &r.ceiling {
        println!(
            "{}",
            loadgen::row(c, chain_at(c.concurrency).map(|t| c.throughput / t))
        );
    }
    for p in &r.place_order {
        println!(
            "{}",
            loadgen::row(p, chain_at(p.concurrency).map(|t| p.throughput / t))
        );
    }
    // What verifying the caller's token costs against PlaceOrder at 1 in flight (same run).
    if let Some(p) = r
        .place_order
        .iter()
        .find(|p| p.concurrency == 1 && p.name.contains("SQLite"))
    {
        let share = |us: f64| us / p.p50_us as f64 * 100.0;
        println!(
            "token verification: a new token {:.1} µs = {:.2} %, a repeated one {:.2} µs = {:.3} % of PlaceOrder's p50 at 1 in flight ({:.2} ms, SQLite)",
            r.token_verify_us,
            share(r.token_verify_us),
            r.token_repeat_us,
            share(r.token_repeat_us),
            p.p50_us as f64 / 1000.0
        );
    }
    // The same load with and without a signature check per call (same run, same system).
    for label in ["SQLite", "PostgreSQL"] {
        let fresh = r
            .place_order
            .iter()
            .find(|p| p.name.contains("a new token per call") && p.name.ends_with(label));
        let repeated = fresh.and_then(|f| {
            r.place_order.iter().find(|p| {
                p.name == format!("PlaceOrder end to end, {label}")
                    && p.concurrency == f.concurrency
            })
        });
        if let (Some(f), Some(p)) = (fresh, repeated) {
            println!(
                "token verification under load, {label}, {} in flight: a new token per call {:.0}/s vs one remembered token {:.0}/s = {:.3}× (p50 {:.2} vs {:.2} ms)",
                f.concurrency,
                f.throughput,
                p.throughput,
                f.throughput / p.throughput,
                f.p50_us as f64 / 1000.0,
                p.p50_us as f64 / 1000.0
            );
        }
    }
    println!();
    println!("issue 19's targets in this run");
    for (what, measured, target, met) in targets(r) {
        println!(
            "{what:<62} {measured:>10}  target {target:<10} {}",
            if met { "met" } else { "NOT MET" }
        );
    }
    println!();
    println!(
        "event propagation (open loop; latency per hop, not counting the PlaceOrder call itself; the second rate per backend is half of its PlaceOrder capacity above)"
    );
    for p in &r.propagation {
        println!("{}", loadgen::row(p, None));
    }
    println!();
    println!(
        "consumer backlog during the PlaceOrder runs (messages not yet processed, sampled every 100 ms)"
    );
    println!(
        "{:<12} {:<30} {:>10} {:>10} {:>10} {:>12} {:>10}",
        "backend", "consumer", "max", "mean", "at end", "catch-up s", "processed"
    );
    for l in &r.consumer_lag {
        println!(
            "{:<12} {:<30} {:>10} {:>10.0} {:>10} {:>12.1} {:>10}",
            l.backend,
            l.consumer,
            l.max_behind,
            l.mean_behind,
            l.behind_at_end,
            l.catch_up_s,
            l.processed
        );
    }
    println!();
    println!("CPU-seconds per 1,000 orders (PlaceOrder v1, 64 in flight, until every consumer caught up; /proc)");
    for backend in ["SQLite", "PostgreSQL"] {
        let rows: Vec<&CpuShare> = r.cpu.iter().filter(|c| c.backend == backend).collect();
        let total: f64 = rows.iter().map(|c| c.per_1000_orders_s).sum();
        for c in &rows {
            println!(
                "{:<12} {:<28} {:>8.2} s  {:>5.1} %",
                c.backend,
                c.process,
                c.per_1000_orders_s,
                c.per_1000_orders_s / total.max(f64::EPSILON) * 100.0
            );
        }
        if !rows.is_empty() {
            println!("{backend:<12} {:<28} {total:>8.2} s", "all processes");
        }
    }
    println!();
    println!(
        "{:<12} {:<14} {:>18} {:>14} {:>20}",
        "backend", "service", "start→SERVING ms", "RSS idle MiB", "RSS after load MiB"
    );
    for s in &r.services {
        println!(
            "{:<12} {:<14} {:>18.1} {:>14.1} {:>20.1}",
            s.backend, s.service, s.start_to_serving_ms, s.rss_idle_mib, s.rss_after_load_mib
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(name: &str, concurrency: usize, throughput: f64, p99_ms: u64) -> Report {
        Report {
            name: name.into(),
            concurrency,
            rate: None,
            requests: 1,
            errors: 0,
            seconds: 1.0,
            throughput,
            p50_us: 0,
            p90_us: 0,
            p99_us: p99_ms * 1000,
            max_us: 0,
            first_error: None,
        }
    }

    #[test]
    fn each_backend_is_judged_by_its_share_of_the_chain_in_the_same_run() {
        let r = SuiteReport {
            ceiling: vec![report("ceiling: bare two-hop tonic chain", 64, 20_000.0, 6)],
            place_order: vec![
                report("PlaceOrder end to end, SQLite", 16, 800.0, 45),
                report("PlaceOrder end to end, SQLite", 64, 1_500.0, 80),
                report("PlaceOrder end to end, PostgreSQL", 16, 500.0, 55),
                report("PlaceOrder end to end, PostgreSQL", 64, 900.0, 110),
            ],
            ..SuiteReport::default()
        };
        let got: Vec<(String, String, bool)> = targets(&r)
            .into_iter()
            .map(|(what, measured, _, met)| (what, measured, met))
            .collect();
        let line = |what: &str| {
            got.iter()
                .find(|(w, _, _)| w == what)
                .map(|(_, m, met)| (m.as_str(), *met))
        };
        for (what, expected) in [
            (
                "PlaceOrder, SQLite, 64 in flight, share of the bare chain",
                ("7.5 %", true),
            ),
            (
                "PlaceOrder, PostgreSQL, 64 in flight, share of the bare chain",
                ("4.5 %", false),
            ),
            (
                "PlaceOrder, SQLite, 64 in flight (3× the issue's baseline)",
                ("1500/s", false),
            ),
            ("PlaceOrder p99, SQLite, 16 in flight", ("45.0 ms", true)),
            (
                "PlaceOrder p99, PostgreSQL, 16 in flight",
                ("55.0 ms", false),
            ),
        ] {
            assert_eq!(line(what), Some(expected), "{what}");
        }
        assert_eq!(got.len(), 6);
    }
}
