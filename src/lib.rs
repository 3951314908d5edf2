//! AIM licensing gateway: intake of AIM-XML license filings (19 CFR Part 361),
//! validation, license issuance, acknowledgements and the public monitor.
//!
//! One module per responsibility; see `docs/architecture.md`.

pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod daemon;
pub mod figures;
pub mod filing;
pub mod generator;
pub mod health;
pub mod intake;
pub mod mail;
pub mod monitor;
pub mod publish;
pub mod service;
pub mod staff_cli;
pub mod store;
pub mod validate;
