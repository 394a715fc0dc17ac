//! Replays every checked-in fuzz input on stable, without libFuzzer: each
//! file of `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes
//! through the target's body, which panics when an invariant breaks.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
        .collect();
    files.sort();
    files
}

fn replay(target: &str) {
    let body = pod_fuzz::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, body)| *body)
        .unwrap_or_else(|| panic!("no target {target}"));
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let corpus = inputs(&fuzz.join("corpus").join(target));
    assert!(!corpus.is_empty(), "fuzz/corpus/{target} is empty");
    let regressions = inputs(&fuzz.join("regressions").join(target));
    let mut failed = Vec::new();
    for file in corpus.iter().chain(&regressions) {
        let data = std::fs::read(file).unwrap();
        if catch_unwind(AssertUnwindSafe(|| body(&data))).is_err() {
            failed.push(file.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} inputs broke an invariant: {failed:#?}",
        failed.len(),
        corpus.len() + regressions.len()
    );
}

#[test]
fn every_target_has_a_test_here() {
    let source = include_str!("corpus.rs");
    for (name, _) in pod_fuzz::TARGETS {
        assert!(
            source.contains(&format!("fn {name}() {{")),
            "add a test for {name}"
        );
    }
}

#[test]
fn alexa_raw() {
    replay("alexa_raw");
}

#[test]
fn alexa_signed() {
    replay("alexa_signed");
}

#[test]
fn slots() {
    replay("slots");
}

#[test]
fn access_token() {
    replay("access_token");
}

#[test]
fn secrets_ini() {
    replay("secrets_ini");
}

#[test]
fn api() {
    replay("api");
}

#[test]
fn web_forms() {
    replay("web_forms");
}
