//! End-to-end tests of the `embers` binary: one integration-test binary, one module per area.

mod common;
mod formats;
mod foundation;
mod glove;
mod quant;
mod query;
mod serve;
mod sweep;
mod train;
mod transformer;
