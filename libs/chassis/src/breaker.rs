//! A circuit breaker for outgoing calls.
//!
//! Closed: calls go through; `failure_threshold` consecutive failures open it.
//! Open: calls are refused at once (the caller fails fast) until `cooldown` has passed.
//! Half-open: up to `half_open_probes` calls go through as probes; a success closes the
//! breaker, a failure opens it for another cool-down.
//!
//! Kept small on purpose (no crate fits tonic clients and a per-call classification of gRPC
//! codes without more code than this): the caller asks for a [`Permit`], makes the call, and
//! reports the outcome on the permit. A permit dropped without an outcome (the caller's own
//! request was cancelled) counts as neither.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Breaker settings.
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// How long it stays open before letting probes through.
    pub cooldown: Duration,
    /// How many probe calls may be in flight while half-open.
    pub half_open_probes: u32,
}

/// What the breaker is doing, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are refused.
    Open,
    /// A few probe calls go through.
    HalfOpen,
}

#[derive(Debug)]
enum Inner {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { in_flight: u32 },
}

/// A circuit breaker shared by all callers of one dependency.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    name: &'static str,
    cfg: BreakerConfig,
    inner: Arc<Mutex<Inner>>,
}

/// The breaker is open: do not call; retry after the given delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// Time until the breaker lets a probe through.
    pub retry_after: Duration,
}

/// Permission for one call. Report how it went with [`Permit::success`] or
/// [`Permit::failure`].
#[derive(Debug)]
#[must_use = "report the call's outcome on the permit"]
pub struct Permit {
    breaker: CircuitBreaker,
    probe: bool,
    done: bool,
}

impl CircuitBreaker {
    /// A closed breaker named `name` (used in logs).
    pub fn new(name: &'static str, cfg: BreakerConfig) -> Self {
        Self {
            name,
            cfg,
            inner: Arc::new(Mutex::new(Inner::Closed { failures: 0 })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means a panic elsewhere mid-update; the state is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.state_at(Instant::now())
    }

    fn state_at(&self, now: Instant) -> BreakerState {
        match *self.lock() {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { until } if now >= until => BreakerState::HalfOpen,
            Inner::Open { .. } => BreakerState::Open,
            Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Asks to make one call.
    pub fn acquire(&self) -> Result<Permit, Rejected> {
        self.acquire_at(Instant::now())
    }

    fn acquire_at(&self, now: Instant) -> Result<Permit, Rejected> {
        let mut inner = self.lock();
        let probe = match *inner {
            Inner::Closed { .. } => false,
            Inner::Open { until } if now < until => {
                return Err(Rejected {
                    retry_after: until - now,
                })
            }
            Inner::Open { .. } => {
                tracing::info!(breaker = self.name, "circuit half-open: probing");
                *inner = Inner::HalfOpen { in_flight: 1 };
                self.observe(&inner);
                true
            }
            Inner::HalfOpen { ref mut in_flight } => {
                if *in_flight >= self.cfg.half_open_probes {
                    return Err(Rejected {
                        retry_after: self.cfg.cooldown.min(Duration::from_secs(1)),
                    });
                }
                *in_flight += 1;
                true
            }
        };
        Ok(Permit {
            breaker: self.clone(),
            probe,
            done: false,
        })
    }

    /// Sets `fd.breaker.state` to the state in `inner`.
    fn observe(&self, inner: &Inner) {
        let value = match inner {
            Inner::Closed { .. } => 0,
            Inner::HalfOpen { .. } => 1,
            Inner::Open { .. } => 2,
        };
        crate::metrics::instruments().breaker.record(
            value,
            &[opentelemetry::KeyValue::new("fd.breaker.name", self.name)],
        );
    }

    fn record(&self, probe: bool, ok: Option<bool>, now: Instant) {
        let mut inner = self.lock();
        self.record_locked(&mut inner, probe, ok, now);
        self.observe(&inner);
    }

    fn record_locked(&self, inner: &mut Inner, probe: bool, ok: Option<bool>, now: Instant) {
        match (&mut *inner, ok) {
            (Inner::Closed { failures }, Some(true)) => *failures = 0,
            (Inner::Closed { failures }, Some(false)) => {
                *failures += 1;
                if *failures >= self.cfg.failure_threshold {
                    tracing::warn!(
                        breaker = self.name,
                        failures = *failures,
                        "circuit OPEN: failing fast"
                    );
                    *inner = Inner::Open {
                        until: now + self.cfg.cooldown,
                    };
                }
            }
            (Inner::HalfOpen { .. }, Some(true)) if probe => {
                tracing::info!(breaker = self.name, "circuit CLOSED: dependency recovered");
                *inner = Inner::Closed { failures: 0 };
            }
            (Inner::HalfOpen { .. }, Some(false)) if probe => {
                tracing::warn!(breaker = self.name, "probe failed: circuit OPEN again");
                *inner = Inner::Open {
                    until: now + self.cfg.cooldown,
                };
            }
            (Inner::HalfOpen { in_flight }, None) if probe => {
                *in_flight = in_flight.saturating_sub(1);
            }
            // Outcomes of calls admitted before the state changed do not move it again.
            _ => {}
        }
    }
}

impl Permit {
    /// The call succeeded (or failed in a way that shows the dependency is healthy).
    pub fn success(mut self) {
        self.done = true;
        self.breaker.record(self.probe, Some(true), Instant::now());
    }

    /// The call failed because the dependency is unhealthy (unavailable, timed out, ...).
    pub fn failure(mut self) {
        self.done = true;
        self.breaker.record(self.probe, Some(false), Instant::now());
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.record(self.probe, None, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(
            "test",
            BreakerConfig {
                failure_threshold: 3,
                cooldown: Duration::from_secs(10),
                half_open_probes: 1,
            },
        )
    }

    fn fail(b: &CircuitBreaker, now: Instant) {
        let p = b.acquire_at(now).expect("closed");
        p.breaker.record(p.probe, Some(false), now);
        std::mem::forget(p);
    }

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let b = breaker();
        let t0 = Instant::now();
        fail(&b, t0);
        fail(&b, t0);
        assert_eq!(b.state_at(t0), BreakerState::Closed);
        fail(&b, t0);
        assert_eq!(b.state_at(t0), BreakerState::Open);
        let r = b.acquire_at(t0 + Duration::from_secs(4)).expect_err("open");
        assert_eq!(r.retry_after, Duration::from_secs(6));
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = breaker();
        let t0 = Instant::now();
        fail(&b, t0);
        fail(&b, t0);
        b.acquire_at(t0).expect("closed").success();
        fail(&b, t0);
        fail(&b, t0);
        assert_eq!(b.state_at(t0), BreakerState::Closed);
    }

    #[test]
    fn half_open_admits_one_probe_and_closes_on_success() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..3 {
            fail(&b, t0);
        }
        let later = t0 + Duration::from_secs(10);
        let probe = b.acquire_at(later).expect("probe admitted");
        assert!(b.acquire_at(later).is_err(), "second probe refused");
        probe.success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.acquire_at(later).is_ok());
    }

    #[test]
    fn failed_probe_reopens_for_a_full_cooldown() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..3 {
            fail(&b, t0);
        }
        let later = t0 + Duration::from_secs(11);
        let probe = b.acquire_at(later).expect("probe");
        b.record(probe.probe, Some(false), later);
        std::mem::forget(probe);
        let r = b.acquire_at(later).expect_err("open again");
        assert_eq!(r.retry_after, Duration::from_secs(10));
    }

    #[test]
    fn abandoned_probe_frees_its_slot() {
        let b = breaker();
        let t0 = Instant::now();
        for _ in 0..3 {
            fail(&b, t0);
        }
        let later = t0 + Duration::from_secs(10);
        drop(b.acquire_at(later).expect("probe"));
        assert!(b.acquire_at(later).is_ok(), "slot freed");
    }
}
