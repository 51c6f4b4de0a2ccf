//! Tests of the HTTP API and the web page: one integration-test binary, one module per area.

mod api;
mod common;
mod errors;
mod heavy;
mod openapi;
mod page;
mod predict;
mod search;
