//! The MSA chassis: the functions every food-delivery service calls.
//!
//! It is a library, not a framework: a service declares itself once ([`service::Definition`]),
//! its `main.rs` is [`service::main`] (config, telemetry, listener, shutdown signal), and its
//! `run` wires the rest with [`service::Service`]: database and relay, consumers, the gRPC
//! server. Every write is a [`work::UnitOfWork`] (or `Db::change`, in [`work`], for a command on an
//! aggregate), and every failure one [`errors::AppError`] mapped to a status in one place.
//!
//! - [`config`]: typed configuration from environment variables, all errors reported at once.
//! - [`telemetry`]: `tracing` subscriber (text or JSON logs).
//! - [`metrics`]: OpenTelemetry metrics, pushed over OTLP and served for Prometheus.
//! - [`server`]: gRPC server with `grpc.health.v1`, reflection and graceful shutdown.
//! - [`shutdown`]: SIGTERM/SIGINT as a future.
//! - [`db`]: SQLite (default) or PostgreSQL pool with embedded migrations.
//! - [`errors`]: `AppError` and `tonic::Status` with `google.rpc` details (field violations,
//!   retry info).
//! - [`money`]: the shared `Money` value type (integer minor units, checked arithmetic).
//! - [`breaker`]: a small circuit breaker for outgoing calls.
//! - [`nats`]: JetStream connection, one stream per context, CloudEvents headers.
//! - [`outbox`]: the transactional outbox and its relay to JetStream.
//! - [`consumer`]: durable pull consumers with idempotent handlers and dead letters.
//! - [`page`]: keyset pagination tokens.
//! - [`semconv`]: the OpenTelemetry RPC semantic conventions, current and (opt-in) deprecated.
//! - [`service`]: the wiring every service shares (db, NATS, relay, consumers, server).
//! - [`time`]: wall-clock helpers shared by the services' storage and wire formats.
//! - [`work`]: the unit of work every write goes through, and load → decide → compare-and-set.

pub mod auth;
pub mod batch;
pub mod breaker;
pub mod config;
pub mod consumer;
pub mod db;
pub mod errors;
pub mod metrics;
pub mod money;
pub mod nats;
pub mod outbox;
pub mod page;
pub mod semconv;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod telemetry;
pub mod time;
pub mod work;

/// Every binary that links the chassis allocates with mimalloc instead of glibc's malloc: a
/// gRPC call, a batch and an event allocate and free many small buffers on threads that hand
/// them to each other. Under load that is 7–14 % less CPU per order; built without transparent
/// huge pages (the `no_thp` feature), the RSS is glibc's (docs/performance.md, issue 19).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
