//! The load generator measures what it claims: closed loop keeps N in flight, open loop keeps
//! the rate, errors are counted apart, and the bare tonic chain answers through both hops.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fd_bench::loadgen::{run, LoadConfig};

#[tokio::test]
async fn closed_loop_keeps_n_in_flight_and_measures_latency() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (f, p) = (in_flight.clone(), peak.clone());
    let cfg = LoadConfig {
        concurrency: 8,
        rate: None,
        duration: Duration::from_millis(600),
        warmup: Duration::from_millis(100),
    };
    let r = run("sleep 10ms", cfg, move || {
        let (f, p) = (f.clone(), p.clone());
        async move {
            let now = f.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(10)).await;
            f.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        }
    })
    .await;
    assert_eq!(peak.load(Ordering::SeqCst), 8);
    // 8 in flight, each at least 10 ms: never more than 800 req/s, every latency ≥ 10 ms.
    assert!(r.throughput > 0.0 && r.throughput <= 800.0, "{r:?}");
    assert!(r.p50_us >= 10_000, "{r:?}");
    assert_eq!(r.errors, 0);
}

#[tokio::test]
async fn open_loop_keeps_the_rate_and_counts_errors() {
    let n = Arc::new(AtomicUsize::new(0));
    let c = n.clone();
    let cfg = LoadConfig {
        concurrency: 100,
        rate: Some(200.0),
        duration: Duration::from_millis(500),
        warmup: Duration::from_millis(100),
    };
    let r = run("every third fails", cfg, move || {
        let c = c.clone();
        async move {
            if c.fetch_add(1, Ordering::SeqCst).is_multiple_of(3) {
                Err("boom".to_string())
            } else {
                Ok(())
            }
        }
    })
    .await;
    // 200/s for 0.6 s in all: 120 requests scheduled by the clock (late ones still go), 100 of
    // them after the warm-up; a third fail.
    let total = n.load(Ordering::SeqCst);
    assert_eq!(total, 120);
    assert_eq!(r.requests + r.errors, 100, "{r:?}");
    assert!((30..=36).contains(&r.errors), "{r:?}");
    assert_eq!(r.first_error.as_deref(), Some("boom"));
}

#[tokio::test]
async fn the_bare_two_hop_chain_answers() {
    let port = |_: ()| {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port")
    };
    let (p2, p1) = (port(()), port(()));
    tokio::spawn(fd_bench::echo::serve(
        format!("127.0.0.1:{p2}").parse().expect("addr"),
        None,
    ));
    tokio::spawn(fd_bench::echo::serve(
        format!("127.0.0.1:{p1}").parse().expect("addr"),
        Some(format!("http://127.0.0.1:{p2}")),
    ));
    let mut client = None;
    for _ in 0..100 {
        if let Ok(ch) = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{p1}"))
            .expect("url")
            .connect()
            .await
        {
            client = Some(tonic_health::pb::health_client::HealthClient::new(ch));
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let client = client.expect("hop 1 listens");
    let cfg = LoadConfig {
        concurrency: 4,
        rate: None,
        duration: Duration::from_millis(300),
        warmup: Duration::from_millis(50),
    };
    let r = run("chain", cfg, move || {
        let mut c = client.clone();
        async move {
            let status = c
                .check(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map_err(|s| s.to_string())?
                .into_inner()
                .status;
            if status == 1 {
                Ok(())
            } else {
                Err(format!("status {status}"))
            }
        }
    })
    .await;
    assert_eq!(r.errors, 0, "{r:?}");
    assert!(r.requests > 50, "{r:?}");
}
