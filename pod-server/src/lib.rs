//! The pod server and the `pod` command.
//!
//! [`app::Application`] builds every adapter from [`settings::Settings`],
//! binds, and serves until a shutdown future resolves; [`cli`] parses the
//! command line (flags and `POD_*` variables, through [`settings`]) and
//! runs each subcommand; `main` only parses, installs telemetry and calls
//! it. This crate is the only one that knows all the others.

pub mod app;
pub mod auth0;
pub mod cli;
pub mod clients;
pub mod conn;
pub mod settings;
pub mod simulate;
