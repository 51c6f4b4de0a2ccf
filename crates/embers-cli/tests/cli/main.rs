//! End-to-end tests of the `embers` binary: one integration-test binary, one module per area.

mod common;
mod export;
mod faults;
mod formats;
mod foundation;
mod glove;
mod quant;
mod query;
mod sentence;
mod serve;
mod supervised;
mod sweep;
mod train;
mod transformer;
