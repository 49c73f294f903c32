//! Tests of the contracts in `proto/`. The tests live in `tests/`:
//!
//! - `conventions.rs`: what every `fooddelivery.*` package must keep — versioned packages,
//!   a comment on every service, RPC, message, field and enum value, events marked with
//!   `(fooddelivery.common.v1.event)` and carrying `EventMetadata` as field 1, money as integer
//!   minor units, timestamps as `google.protobuf.Timestamp`, one request/response per RPC.
