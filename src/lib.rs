//! AIM licensing gateway: intake of AIM-XML license filings (19 CFR Part 361),
//! validation, license issuance, acknowledgements and the public monitor.
//!
//! One module per responsibility; see `docs/architecture.md`. The public surface is what the
//! binary (`cli`), the integration tests, the benchmarks and the fuzz targets use; everything
//! else is the crate's own, so that rustc reports what nothing calls.

pub mod cli;
pub mod config;
pub mod console;
pub mod daemon;
pub mod filing;
pub mod generator;
pub mod intake;
pub mod store;
pub mod validate;

pub(crate) mod api;
pub(crate) mod clock;
pub(crate) mod figures;
pub(crate) mod health;
pub(crate) mod mail;
pub(crate) mod monitor;
pub(crate) mod publish;
pub(crate) mod service;
pub(crate) mod staff_cli;
