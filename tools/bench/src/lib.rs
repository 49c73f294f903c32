//! The project's load generator ([`loadgen`]) and the pieces of `make bench`: the bare tonic
//! ceiling ([`echo`]) and the suite that drives the real services ([`suite`]).

pub mod echo;
pub mod loadgen;
pub mod suite;
