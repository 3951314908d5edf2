//! AIM licensing gateway: intake of AIM-XML license filings (19 CFR Part 361),
//! validation, license issuance, acknowledgements and the public monitor.
//!
//! One module per responsibility; see `docs/architecture.md`.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod filing;
pub mod generator;
pub mod intake;
pub mod mail;
pub mod store;
pub mod validate;
