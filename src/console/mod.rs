//! The staff console (spec section 9), a ratatui app built as events in, actions out:
//!
//! - `app`: the state; `update`: `update(&mut App, Msg) -> Vec<Action>`, pure;
//! - `render/`: `render(&App, &mut Frame)`, pure, one module a screen;
//! - `keys`: every key of every screen (help overlay, footer, disabled keys);
//! - `sanitize`: the one gate for filing-derived text on its way to the terminal;
//! - `run`: the terminal, the event loop over input, ticks and the daemon, reconnecting;
//! - `alone`: `aim` alone, the daemon and the console in one process.
//!
//! It talks to the daemon only through `api` (the control socket); it never opens the store.

pub(crate) mod alone;
pub mod app;
pub(crate) mod keys;
pub(crate) mod render;
pub(crate) mod run;
pub(crate) mod sanitize;
pub(crate) mod screens;
pub(crate) mod update;

pub use run::{Options, event_loop, run};

#[cfg(test)]
mod tests;
