//! Recorded dialogs (`pod dialog --record` / `--replay`, like `ask dialog`):
//! every recording checked in under `tests/dialogs/` replays against a
//! fresh server with the same answers; a tampered one fails with the
//! difference; and a recording keeps the spoken code as `{code}`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::support::{Finished, PATIENCE, POD, TestApp, finish};

/// The recordings checked in at the repository's `tests/dialogs/`.
fn checked_in_dialogs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/dialogs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// `pod dialog --replay FILE` against `app`.
async fn replay(app: &TestApp, file: &Path) -> Finished {
    let url = app.url("/alexa");
    let file = file.display().to_string();
    app.pod(&["dialog", "--replay", &file, "--url", &url]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checked_in_dialogs_replay_with_the_same_answers() {
    let files = checked_in_dialogs();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "order-and-confirm.en-US.json",
        "wrong-code-then-right.en-US.json",
        "order-and-confirm.de-DE.json",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    for file in &files {
        let app = TestApp::spawn().await;
        let done = replay(&app, file).await;
        assert!(
            done.status.success(),
            "{}:\n{}\n{}",
            file.display(),
            done.stderr,
            done.stdout
        );
        assert!(
            done.stdout.contains("every answer as recorded"),
            "{}",
            done.stdout
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_recording_fails_the_replay_with_the_first_difference() {
    let original = checked_in_dialogs()
        .into_iter()
        .find(|f| f.ends_with("order-and-confirm.en-US.json"))
        .expect("the recording");
    let recording: Value =
        serde_json::from_str(&std::fs::read_to_string(&original).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn().await;

    // Another confirmation than the one the skill says.
    let mut tampered = recording.clone();
    let speech = &mut tampered["turns"][2]["answer"]["speech"];
    let said = speech.as_str().unwrap().to_owned();
    *speech = Value::String(said.replace("large", "small"));
    let file = dir.path().join("tampered-answer.json");
    std::fs::write(&file, tampered.to_string()).unwrap();
    let done = replay(&app, &file).await;
    assert!(!done.status.success(), "{}", done.stdout);
    assert!(
        done.stderr
            .contains("turn 3 (\"authorize {code}\") got a different answer:"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains(&format!(
            "  speech:\n    - recorded: \"{}\"\n    + replayed: \"{said}\"",
            said.replace("large", "small")
        )),
        "{}",
        done.stderr
    );
    assert!(!done.stdout.contains("every answer as recorded"));

    // A card that is not there any more.
    let mut tampered = recording.clone();
    tampered["turns"][0]["answer"]["card"] =
        serde_json::json!({"type": "Simple", "title": "Hello", "content": "there"});
    let file = dir.path().join("tampered-card.json");
    std::fs::write(&file, tampered.to_string()).unwrap();
    let done = replay(&app, &file).await;
    assert!(!done.status.success());
    assert!(
        done.stderr.contains("turn 1 (\"open pizza on demand\")")
            && done
                .stderr
                .contains("  card.title:\n    - recorded: \"Hello\"\n    + replayed: (none)"),
        "{}",
        done.stderr
    );

    // Words the skill understands differently from the recording.
    let mut tampered = recording;
    tampered["turns"][1]["say"] = Value::String("get me a small pizza with pepperoni".into());
    let file = dir.path().join("tampered-words.json");
    std::fs::write(&file, tampered.to_string()).unwrap();
    let done = replay(&app, &file).await;
    assert!(!done.status.success());
    assert!(
        done.stderr.contains("was understood differently")
            && done
                .stderr
                .contains("  slots.Size:\n    - recorded: \"large\"\n    + replayed: \"small\""),
        "{}",
        done.stderr
    );

    // Not a recording at all.
    let file = dir.path().join("not-a-recording.json");
    std::fs::write(&file, "{\"hello\": 1}").unwrap();
    let done = replay(&app, &file).await;
    assert!(!done.status.success());
    assert!(
        done.stderr.contains("is not a recorded dialog"),
        "{}",
        done.stderr
    );
}

/// Records a conversation typed line by line (the code read from the
/// outbox once the order is in; a wrong code, then the right one), then
/// replays it on the same server: a new order, a new code, the same answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_dialog_keeps_the_code_as_a_variable_and_replays() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("recorded.json");
    let url = app.url("/alexa");
    let mut command = tokio::process::Command::new(POD);
    command
        .env_clear()
        .env("POD_DATA_DIR", &app.data_dir)
        .env("RUST_LOG", "warn")
        .args(["dialog", "--user", "demo", "--url", &url, "--record"])
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("start pod dialog");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(b"get me a large pizza with pepperoni\n")
        .await
        .unwrap();
    // The order is in once its code is in the outbox.
    let waited = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(entry) = app.outbox().pop() {
                return entry.code;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let code = waited.expect("a code in the outbox");
    // A wrong code first (each digit moved by five), then the right one.
    let wrong: String = code
        .chars()
        .map(|c| char::from_digit((c.to_digit(10).unwrap() + 5) % 10, 10).unwrap())
        .collect();
    stdin
        .write_all(format!("authorize {wrong}\nauthorize {code}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let done = finish(&["dialog", "--record"], child.wait_with_output()).await;
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stdout.contains("Alexa: Order confirmed."),
        "{}",
        done.stdout
    );

    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains(&code) && !text.contains(&wrong),
        "the codes themselves are not kept:\n{text}"
    );
    let recorded: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(recorded["format"], "pod-dialog/1");
    assert_eq!(recorded["locale"], "en-US");
    assert_eq!(recorded["user"], "demo");
    let turns = recorded["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 3);
    assert_eq!(turns[0]["request"]["intent"], "GetMeSomePizzaIntent");
    assert_eq!(turns[0]["request"]["newSession"], true);
    assert_eq!(turns[1]["say"], "authorize {wrong_code}");
    assert_eq!(turns[1]["request"]["slots"]["Code"], "{wrong_code}");
    assert!(
        turns[1]["answer"]["speech"]
            .as_str()
            .unwrap()
            .starts_with("That code is not right."),
        "{text}"
    );
    assert_eq!(turns[2]["say"], "authorize {code}");
    assert_eq!(turns[2]["request"]["slots"]["Code"], "{code}");
    assert_eq!(turns[2]["answer"]["shouldEndSession"], true);
    assert!(
        turns[2]["answer"]["speech"]
            .as_str()
            .unwrap()
            .starts_with("Order confirmed.")
    );

    let done = replay(&app, &file).await;
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(app.outbox().len(), 2, "the replay ordered again");
}
