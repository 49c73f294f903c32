//! `fd-bench`: the project's load generator and the `make bench` suite.
//!
//! ```text
//! fd-bench load --target place-order --addr http://127.0.0.1:50051 --concurrency 64 --duration 10
//! fd-bench load --target health --addr http://127.0.0.1:50051 --rate 2000 --json
//! fd-bench echo --listen 127.0.0.1:7001 [--next http://127.0.0.1:7002]
//! fd-bench suite [--duration 5] [--json target/bench/bench.json]
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use fd_bench::loadgen::{self, LoadConfig};
use fd_bench::{echo, suite};

#[derive(Parser, Debug)]
#[command(
    name = "fd-bench",
    version,
    about = "Load generator and benchmark suite of the food-delivery system."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Target {
    /// PlaceOrder with a fresh idempotency key per request.
    PlaceOrder,
    /// grpc.health.v1 Check (any service, or `fd-bench echo`).
    Health,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Drive one target: closed loop (N in flight) or open loop (--rate per second).
    Load {
        #[arg(long, value_enum)]
        target: Target,
        #[arg(long)]
        addr: String,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Requests per second (open loop); without it, closed loop.
        #[arg(long)]
        rate: Option<f64>,
        /// Seconds measured.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Seconds of warm-up before measuring.
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        /// Print JSON instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// A bare tonic service answering grpc.health.v1 Check (optionally by calling --next).
    Echo {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long)]
        next: Option<String>,
    },
    /// The whole `make bench` suite (needs the release binaries and PostgreSQL).
    Suite {
        #[arg(long, default_value = "target/release")]
        bin_dir: PathBuf,
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        /// Orders per second for the propagation run.
        #[arg(long, default_value_t = 100.0)]
        propagation_rate: f64,
        /// Also write the results as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// PlaceOrder on one backend and its CPU per 1,000 orders: the suite's part that changes
    /// to the order path move (prints each process's PID, for a profiler).
    Profile {
        #[arg(long, default_value = "target/release")]
        bin_dir: PathBuf,
        #[arg(long, value_enum, default_value_t = ProfileBackend::Sqlite)]
        backend: ProfileBackend,
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        /// Requests in flight, one run each.
        #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
        concurrency: Vec<usize>,
        /// Also measure event propagation first, at this many orders per second (0: not).
        #[arg(long, default_value_t = 0.0)]
        propagation_rate: f64,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum ProfileBackend {
    Sqlite,
    Postgres,
}

fn secs(s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s).map_err(|_| anyhow::anyhow!("bad duration {s}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Load {
            target,
            addr,
            concurrency,
            rate,
            duration,
            warmup,
            json,
        } => {
            let cfg = LoadConfig {
                concurrency,
                rate,
                duration: secs(duration)?,
                warmup: secs(warmup)?,
            };
            let channel = tonic::transport::Channel::from_shared(addr.clone())?
                .connect()
                .await?;
            let report = match target {
                Target::PlaceOrder => {
                    // Orders as the customer "load": FD_TOKEN is their token
                    // (`fdctl login --as load`, then the token in ~/.fdctl-token).
                    let token = std::env::var("FD_TOKEN").unwrap_or_default();
                    let c = fd_proto::order::v1::order_service_client::OrderServiceClient::new(
                        fd_testkit::issuer::with_token(channel, &token),
                    );
                    loadgen::run("PlaceOrder", cfg, move || {
                        let mut c = c.clone();
                        async move {
                            let req = suite::place_request("load");
                            c.place_order(req)
                                .await
                                .map(|_| ())
                                .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
                        }
                    })
                    .await
                }
                Target::Health => {
                    let c = tonic_health::pb::health_client::HealthClient::new(channel);
                    loadgen::run("health Check", cfg, move || {
                        let mut c = c.clone();
                        async move {
                            c.check(tonic_health::pb::HealthCheckRequest {
                                service: String::new(),
                            })
                            .await
                            .map(|_| ())
                            .map_err(|s| s.to_string())
                        }
                    })
                    .await
                }
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{}\n{}", loadgen::header(), loadgen::row(&report, None));
                if let Some(e) = &report.first_error {
                    println!("first error: {e}");
                }
            }
        }
        Cmd::Profile {
            bin_dir,
            backend,
            duration,
            warmup,
            concurrency,
            propagation_rate,
        } => {
            let cfg = suite::SuiteConfig {
                bin_dir,
                duration: secs(duration)?,
                warmup: secs(warmup)?,
                propagation_rate,
                concurrencies: concurrency,
            };
            let backend = match backend {
                ProfileBackend::Sqlite => fd_testkit::Backend::Sqlite,
                ProfileBackend::Postgres => fd_testkit::Backend::Postgres,
            };
            suite::print(&suite::profile(cfg, backend).await?);
        }
        Cmd::Echo { listen, next } => echo::serve(listen, next).await?,
        Cmd::Suite {
            bin_dir,
            duration,
            warmup,
            propagation_rate,
            json,
        } => {
            let cfg = suite::SuiteConfig {
                bin_dir,
                duration: secs(duration)?,
                warmup: secs(warmup)?,
                propagation_rate,
                concurrencies: vec![1, 16, 64],
            };
            let me = std::env::current_exe()?;
            let report = suite::run(cfg, &me).await?;
            suite::print(&report);
            if let Some(path) = json {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
                println!("\n(JSON: {})", path.display());
            }
        }
    }
    Ok(())
}
