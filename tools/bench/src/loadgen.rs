//! The load generator: closed loop (N requests in flight) or open loop (a fixed rate, latency
//! measured from each request's scheduled start, so a slow server cannot hide its queueing),
//! with a warm-up whose requests are not counted, and HDR histograms (1 µs – 60 s, 3 digits).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

#[derive(Debug, Clone, Copy)]
pub struct LoadConfig {
    /// Requests in flight (closed loop), or the cap on in-flight requests (open loop).
    pub concurrency: usize,
    /// Requests per second: open loop. `None`: closed loop.
    pub rate: Option<f64>,
    pub duration: Duration,
    pub warmup: Duration,
}

/// What one run measured (latencies in microseconds).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub name: String,
    pub concurrency: usize,
    pub rate: Option<f64>,
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub throughput: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// The first error seen, to tell what went wrong.
    pub first_error: Option<String>,
}

struct Shared {
    hist: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant bounds within HDR's limits")
}

impl Report {
    fn from(name: &str, cfg: &LoadConfig, s: &Shared, seconds: f64) -> Report {
        let h = &s.hist;
        let requests = h.len();
        Report {
            name: name.to_string(),
            concurrency: cfg.concurrency,
            rate: cfg.rate,
            requests,
            errors: s.errors,
            seconds,
            throughput: requests as f64 / seconds.max(1e-9),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
            first_error: s.first_error.clone(),
        }
    }
}

fn record(shared: &Mutex<Shared>, counted: bool, latency: Duration, result: Result<(), String>) {
    if !counted {
        return;
    }
    let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
    match result {
        Ok(()) => {
            let us = u64::try_from(latency.as_micros())
                .unwrap_or(u64::MAX)
                .max(1);
            let _ = s.hist.record(us.min(60_000_000));
        }
        Err(e) => {
            s.errors += 1;
            if s.first_error.is_none() {
                s.first_error = Some(e);
            }
        }
    }
}

/// Runs `op` under load and reports. `op` is called once per request.
pub async fn run<F, Fut>(name: &str, cfg: LoadConfig, op: F) -> Report
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let op = Arc::new(op);
    let shared = Arc::new(Mutex::new(Shared {
        hist: new_hist(),
        errors: 0,
        first_error: None,
    }));
    let start = Instant::now();
    let measure_from = start + cfg.warmup;
    let end = measure_from + cfg.duration;
    match cfg.rate {
        None => {
            let mut tasks = Vec::new();
            for _ in 0..cfg.concurrency.max(1) {
                let (op, shared) = (op.clone(), shared.clone());
                tasks.push(tokio::spawn(async move {
                    loop {
                        let t0 = Instant::now();
                        if t0 >= end {
                            return;
                        }
                        let r = op().await;
                        let t1 = Instant::now();
                        record(&shared, t0 >= measure_from && t1 <= end, t1 - t0, r);
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
        }
        Some(rate) => {
            let gap = Duration::from_secs_f64(1.0 / rate.max(0.001));
            let limit = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1)));
            let mut tasks = Vec::new();
            let mut i: u32 = 0;
            loop {
                let scheduled = start + gap * i;
                if scheduled >= end {
                    break;
                }
                tokio::time::sleep_until(scheduled.into()).await;
                i += 1;
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    break;
                };
                let (op, shared) = (op.clone(), shared.clone());
                tasks.push(tokio::spawn(async move {
                    let r = op().await;
                    let t1 = Instant::now();
                    // Latency from the scheduled start: queueing in the generator counts too.
                    record(&shared, scheduled >= measure_from, t1 - scheduled, r);
                    drop(permit);
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
        }
    }
    let s = shared.lock().unwrap_or_else(|p| p.into_inner());
    Report::from(name, &cfg, &s, cfg.duration.as_secs_f64())
}

/// Reports several named latency series measured elsewhere (e.g. event propagation).
pub fn report_from_samples(
    name: &str,
    rate: Option<f64>,
    samples: &[Duration],
    errors: u64,
    seconds: f64,
) -> Report {
    let mut s = Shared {
        hist: new_hist(),
        errors,
        first_error: None,
    };
    for d in samples {
        let _ = s.hist.record(
            u64::try_from(d.as_micros())
                .unwrap_or(u64::MAX)
                .clamp(1, 60_000_000),
        );
    }
    let cfg = LoadConfig {
        concurrency: 0,
        rate,
        duration: Duration::from_secs_f64(seconds),
        warmup: Duration::ZERO,
    };
    Report::from(name, &cfg, &s, seconds)
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

/// One table row: throughput and latencies in ms, plus an optional ratio column.
pub fn row(r: &Report, ratio: Option<f64>) -> String {
    let load = match r.rate {
        Some(rate) => format!("{rate:.0}/s"),
        None => format!("{} in flight", r.concurrency),
    };
    format!(
        "{:<44} {:>13} {:>10.0} {:>8} {:>8} {:>8} {:>9} {:>7} {:>9}",
        r.name,
        load,
        r.throughput,
        ms(r.p50_us),
        ms(r.p90_us),
        ms(r.p99_us),
        ms(r.max_us),
        r.errors,
        ratio
            .map(|x| format!("{:.0} %", x * 100.0))
            .unwrap_or_default()
    )
}

pub fn header() -> String {
    format!(
        "{:<44} {:>13} {:>10} {:>8} {:>8} {:>8} {:>9} {:>7} {:>9}",
        "run", "load", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "vs chain"
    )
}
