//! End-to-end tests of the `embers` binary: one integration-test binary, one module per area.

mod common;
mod foundation;
mod serve;
