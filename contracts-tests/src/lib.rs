//! Tests of the contracts in proto/; see tests/.
