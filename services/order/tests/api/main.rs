//! Order's gRPC API end to end: real order and payment servers on port 0, real databases
//! (each test its own SQLite file, and the same suite on a fresh PostgreSQL database).
//! All tests build into one binary (one link, shared helpers).

mod auth;
mod breaker;
mod cancel;
mod helpers;
mod menu;
mod orphans;
mod place;
mod server;
