//! The pod server: settings, wiring and the `pod` command.
//!
//! [`app::Application`] builds every adapter from [`settings::Settings`],
//! binds, and serves until a shutdown future resolves; `main` only parses
//! the command line, installs telemetry and calls it. This crate is the only
//! one that knows all the others.

pub mod app;
pub mod auth0;
pub mod cli;
pub mod settings;
pub mod simulate;
