//! The whole system end to end: order, payment, store, delivery and notification as real gRPC
//! servers on port 0, one real nats-server with JetStream, each service its own database
//! (SQLite files, and the same tests on fresh PostgreSQL databases).

mod deadletters;
mod faults;
mod hostile;
mod menus;
mod migrations;
mod replicas;
mod scenarios;
mod webhook;
