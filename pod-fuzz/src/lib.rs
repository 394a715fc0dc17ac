//! The bodies of pod's fuzz targets, as plain functions of the input bytes.
//!
//! `../fuzz` (a cargo-fuzz project outside the workspace) wraps each one in
//! a `fuzz_target!`; this crate's test (`tests/corpus.rs`) calls the same
//! functions on every file of `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/`, so CI replays the corpora on stable without
//! libFuzzer. Each function panics exactly when an invariant breaks: pod
//! panicked, or answered in a way it must not (a 5xx, a round trip that
//! does not come back equal, a refused input that changed something).
//!
//! See `docs/FUZZING.md` for the input format of each target.

mod alexa;
mod api;
mod harness;
mod secrets;
mod slots;
mod tokens;
mod web;

pub use alexa::{alexa_raw, alexa_signed};
pub use api::api;
pub use secrets::secrets_ini;
pub use slots::slots;
pub use tokens::access_token;
pub use web::web_forms;

/// A fuzz target: its name (the folder of its corpus) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, by the name of its corpus folder and of its `fuzz_target`.
pub const TARGETS: &[Target] = &[
    ("alexa_raw", alexa_raw),
    ("alexa_signed", alexa_signed),
    ("slots", slots),
    ("access_token", access_token),
    ("secrets_ini", secrets_ini),
    ("api", api),
    ("web_forms", web_forms),
];

/// Splits an input into the steps of a conversation: parts separated by a
/// line holding only `--`, at most `max` of them (the rest is dropped, so
/// one input stays cheap).
pub(crate) fn steps(text: &str, max: usize) -> impl Iterator<Item = &str> {
    text.split("\n--\n").take(max)
}
