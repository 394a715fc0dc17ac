//! The `pod` command line as a new user meets it: help that says what pod
//! is, errors that name what the person typed, commands that read nothing
//! into existence, and output without log lines.

use std::path::Path;
use std::process::Stdio;

use crate::support::{Finished, POD, finish};

/// Runs `pod ARGS` in `dir` with only `env` set: no `RUST_LOG`, no
/// `POD_DATA_DIR` unless given, so the defaults a person gets apply.
async fn pod_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Finished {
    let mut command = tokio::process::Command::new(POD);
    command
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    finish(args, command.output()).await
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_flag_is_named_as_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["serve", "--code-lifetime", "abc"], "--code-lifetime"),
        (&["serve", "--listen", "nowhere"], "--listen"),
        (&["serve", "--alexa-verify", "maybe"], "--alexa-verify"),
        (&["serve", "--code-digits", "9"], "--code-digits 9"),
        (&["token", "demo", "--ttl", "soon"], "--ttl"),
    ];
    for (args, flag) in cases {
        let done = pod_in(dir.path(), args, &[]).await;
        assert!(!done.status.success(), "{args:?} was accepted");
        assert!(done.stderr.contains(flag), "{args:?}: {}", done.stderr);
        assert!(
            !done.stderr.contains("POD_") && !done.stderr.contains("code_digits"),
            "{args:?} names a variable or a field: {}",
            done.stderr
        );
    }
    let done = pod_in(dir.path(), &["serve", "--code-digits", "9"], &[]).await;
    assert!(
        done.stderr
            .contains("--code-digits 9: must be between 4 and 8"),
        "{}",
        done.stderr
    );
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_variable_is_named_as_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("POD_CODE_LIFETIME", "abc", "POD_CODE_LIFETIME"),
        ("POD_LISTEN", "nowhere", "POD_LISTEN"),
        ("POD_ALEXA_VERIFY", "maybe", "POD_ALEXA_VERIFY"),
        (
            "POD_CODE_DIGITS",
            "9",
            "POD_CODE_DIGITS=9: must be between 4 and 8",
        ),
        ("POD_LOCKOUT_AFTER", "many", "POD_LOCKOUT_AFTER"),
    ];
    for (variable, value, named) in cases {
        for args in [&["serve"][..], &[]] {
            let done = pod_in(dir.path(), args, &[(variable, value)]).await;
            assert!(!done.status.success(), "{variable}={value} was accepted");
            assert!(
                done.stderr.contains(named),
                "{variable}={value} pod {args:?}: {}",
                done.stderr
            );
            let flag = format!(
                "--{}",
                variable["POD_".len()..]
                    .to_ascii_lowercase()
                    .replace('_', "-")
            );
            assert!(
                !done.stderr.contains(&flag) && !done.stderr.contains("code_digits"),
                "{variable}={value} is named as {flag}: {}",
                done.stderr
            );
        }
    }
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_commands_create_no_data_folder_and_say_where_they_looked() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().canonicalize().unwrap().join("pod-data");
    let expected = format!(
        "no pod data folder at {}: set POD_DATA_DIR, or run `pod serve` once to create one",
        folder.display()
    );
    let commands: [&[&str]; 5] = [
        &["token", "demo"],
        &["outbox"],
        &["users", "list"],
        &["users", "unlock", "demo"],
        &["simulate", "--user", "demo", "get me a large pizza"],
    ];
    for args in commands {
        let done = pod_in(dir.path(), args, &[]).await;
        assert!(!done.status.success(), "pod {args:?} succeeded");
        assert!(
            done.stderr.contains(&expected),
            "pod {args:?}: {}",
            done.stderr
        );
        assert!(
            entries(dir.path()).is_empty(),
            "pod {args:?} created {:?}",
            entries(dir.path())
        );
    }
    // POD_DATA_DIR names the folder looked in.
    let elsewhere = dir.path().join("elsewhere");
    let elsewhere = elsewhere.to_str().unwrap();
    let done = pod_in(
        dir.path(),
        &["token", "demo"],
        &[("POD_DATA_DIR", elsewhere)],
    )
    .await;
    assert!(!done.status.success());
    assert!(
        done.stderr
            .contains(&format!("no pod data folder at {elsewhere}")),
        "{}",
        done.stderr
    );
    assert!(entries(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_print_results_not_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let added = pod_in(
        dir.path(),
        &["users", "add", "alice", "--email", "alice@example.com"],
        &[],
    )
    .await;
    assert!(added.status.success(), "{}", added.stderr);
    assert_eq!(added.stdout.trim(), "added alice (alice@example.com)");
    assert_eq!(added.stderr, "", "no log lines by default");
    assert!(
        entries(dir.path()).contains(&"pod-data".to_owned()),
        "pod users add starts the data folder"
    );

    let listed = pod_in(dir.path(), &["users", "list"], &[]).await;
    assert!(listed.status.success(), "{}", listed.stderr);
    assert!(
        listed.stdout.contains("alice@example.com"),
        "{}",
        listed.stdout
    );
    assert_eq!(listed.stderr, "");

    // -v shows what pod does; RUST_LOG, when set, wins.
    let verbose = pod_in(
        dir.path(),
        &["users", "add", "bob", "--email", "bob@example.com", "-v"],
        &[],
    )
    .await;
    assert!(verbose.status.success(), "{}", verbose.stderr);
    assert!(verbose.stderr.contains("INFO"), "{}", verbose.stderr);
    let quiet = pod_in(
        dir.path(),
        &[
            "-v",
            "users",
            "add",
            "carol",
            "--email",
            "carol@example.com",
        ],
        &[("RUST_LOG", "error")],
    )
    .await;
    assert!(quiet.status.success(), "{}", quiet.stderr);
    assert_eq!(quiet.stderr, "");

    // A failure exits non-zero with a message for a person, not Debug output.
    let again = pod_in(
        dir.path(),
        &["users", "add", "alice", "--email", "alice@example.com"],
        &[],
    )
    .await;
    assert!(!again.status.success());
    assert!(again.stderr.starts_with("pod: "), "{}", again.stderr);
    assert!(!again.stderr.contains("Error {"), "{}", again.stderr);
    let nobody = pod_in(dir.path(), &["users", "unlock", "nobody"], &[]).await;
    assert!(!nobody.status.success());
    assert!(
        nobody.stderr.contains("no user nobody"),
        "{}",
        nobody.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_says_what_pod_is_and_shows_an_example() {
    let dir = tempfile::tempdir().unwrap();
    let help = pod_in(dir.path(), &["--help"], &[]).await;
    assert!(help.status.success(), "{}", help.stderr);
    let first = help.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("pod runs an Alexa skill"),
        "starts with: {first}"
    );
    for example in [
        "pod serve",
        "pod simulate --user demo \"get me a large pizza\"",
    ] {
        assert!(help.stdout.contains(example), "{example}: {}", help.stdout);
    }
    // Flags of one subcommand are not offered for all of them.
    for flag in ["--api-audience", "--database-url", "--listen"] {
        assert!(!help.stdout.contains(flag), "{flag}: {}", help.stdout);
    }

    let serve = pod_in(dir.path(), &["serve", "--help"], &[]).await;
    assert!(serve.status.success(), "{}", serve.stderr);
    for setting in [
        "AUTH0_DOMAIN",
        "API_ID",
        "API_SIGNING_KEY",
        "APP_CLIENT_ID",
        "APP_CLIENT_SECRET",
        "AUTH0_BASE_URL",
        "AUTH0_ID_TOKEN_ALG",
        "--secrets",
        "--listen",
        "POD_LISTEN",
        "--api-audience",
        "--database-url",
    ] {
        assert!(
            serve.stdout.contains(setting),
            "{setting}: {}",
            serve.stdout
        );
    }
    assert!(entries(dir.path()).is_empty());
}
