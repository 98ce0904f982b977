//! `strowger serve`: registrar, location service, proxy and redirect server.

pub mod app;
#[cfg(test)]
mod app_tests;
pub mod config;
pub mod metrics;
