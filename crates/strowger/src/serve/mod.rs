//! `strowger serve`: registrar, location service, proxy and redirect server.

pub mod config;
pub mod metrics;
pub mod app;
