//! `pod simulate` and `pod dialog` as a person uses them: what was heard and
//! what Alexa says, and, when the skill refuses or nothing answers, a
//! non-zero exit with one line on stderr that says what to do.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use crate::support::{Finished, POD, TestApp, finish};

/// Runs `pod ARGS` against `app`'s data folder with `input` on stdin.
async fn pod_with_input(app: &TestApp, args: &[&str], input: &str) -> Finished {
    let mut command = tokio::process::Command::new(POD);
    command
        .env_clear()
        .env("POD_DATA_DIR", &app.data_dir)
        .env("RUST_LOG", "warn")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("start pod");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(input.as_bytes())
        .await
        .expect("write stdin");
    drop(stdin);
    finish(args, child.wait_with_output()).await
}

/// No Rust `Debug` output and no HTTP client internals in what people read.
fn assert_for_people(done: &Finished) {
    for text in [&done.stdout, &done.stderr] {
        for leak in ["Intent {", "reqwest", "hyper", "Error {", "Os {", "kind:"] {
            assert!(!text.contains(leak), "{leak:?} in:\n{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_prints_what_it_heard_and_what_alexa_says() {
    let app = TestApp::spawn().await;
    let url = app.url("/alexa");
    let done = app
        .pod(&[
            "simulate",
            "--url",
            &url,
            "get me a large pizza with pepperoni",
        ])
        .await;
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("heard: GetMeSomePizzaIntent (Size=large, Toppings=pepperoni)"),
        "{}",
        done.stderr
    );
    // No token: the skill asks for account linking.
    assert!(done.stdout.starts_with("Alexa: "), "{}", done.stdout);
    assert!(done.stdout.contains("card: LinkAccount"), "{}", done.stdout);
    assert_for_people(&done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_without_the_endpoint_path_fails_and_names_the_endpoint() {
    let app = TestApp::spawn().await;
    let done = app
        .pod(&["simulate", "--url", &app.base, "open pizza on demand"])
        .await;
    assert!(!done.status.success(), "{}", done.stdout);
    let expected = format!(
        "HTTP 404 from {}: the skill endpoint is {}/alexa",
        app.base, app.base
    );
    assert!(done.stderr.contains(&expected), "{}", done.stderr);
    assert!(!done.stdout.contains("Alexa:"), "{}", done.stdout);
    assert_for_people(&done);

    // --json prints nothing either: the answer is an error, not an envelope.
    let done = app
        .pod(&["simulate", "--json", "--url", &app.base, "help"])
        .await;
    assert!(!done.status.success());
    assert!(done.stderr.contains(&expected), "{}", done.stderr);
    assert!(done.stdout.is_empty(), "{}", done.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_and_dialog_say_when_nothing_answers() {
    let app = TestApp::spawn().await;
    // A port that was free a moment ago: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alexa", listener.local_addr().unwrap());
    drop(listener);
    let expected = format!("nothing answers at {url}; start the server with `pod serve`");

    let done = app
        .pod(&["simulate", "--url", &url, "open pizza on demand"])
        .await;
    assert!(!done.status.success(), "{}", done.stdout);
    assert!(done.stderr.contains(&expected), "{}", done.stderr);
    assert_for_people(&done);

    let done = pod_with_input(&app, &["dialog", "--url", &url], "open pizza on demand\n").await;
    assert!(!done.status.success(), "{}", done.stdout);
    assert!(done.stderr.contains(&expected), "{}", done.stderr);
    assert_for_people(&done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialog_talks_until_the_input_ends_and_fails_on_a_refusal() {
    let app = TestApp::spawn().await;
    let url = app.url("/alexa");
    let done = pod_with_input(
        &app,
        &["dialog", "--url", &url],
        "open pizza on demand\nhelp\n",
    )
    .await;
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stdout
            .contains("Alexa: Welcome to Pizza on Demand. How can I help you?"),
        "{}",
        done.stdout
    );
    assert!(
        done.stderr.contains("heard: LaunchRequest"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("heard: AMAZON.HelpIntent"),
        "{}",
        done.stderr
    );
    assert_for_people(&done);

    let done = pod_with_input(
        &app,
        &["dialog", "--url", &app.base],
        "open pizza on demand\nhelp\n",
    )
    .await;
    assert!(!done.status.success(), "{}", done.stdout);
    assert!(
        done.stderr.contains(&format!(
            "HTTP 404 from {}: the skill endpoint is {}/alexa",
            app.base, app.base
        )),
        "{}",
        done.stderr
    );
    assert!(!done.stdout.contains("Alexa:"), "{}", done.stdout);
    assert_for_people(&done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_speaks_german_with_the_de_de_locale() {
    let app = TestApp::spawn().await;
    let url = app.url("/alexa");
    app.pod_ok(&["users", "add", "hans", "--email", "hans@example.com"])
        .await;
    let german = |said: &str| {
        [
            "simulate", "--locale", "de-DE", "--user", "hans", "--url", &url, said,
        ]
        .map(str::to_owned)
    };
    let say = |args: [String; 8]| {
        let app = &app;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let done = app.pod(&args).await;
            assert!(done.status.success(), "{}", done.stderr);
            assert_for_people(&done);
            done
        }
    };

    let done = say(german("Alexa, öffne Pizza on Demand")).await;
    assert!(
        done.stderr.contains("heard: LaunchRequest"),
        "{}",
        done.stderr
    );
    assert!(
        done.stdout
            .contains("Alexa: Willkommen bei Pizza on Demand. Wie kann ich helfen?"),
        "{}",
        done.stdout
    );

    let done = say(german("bestelle eine große Pizza mit Salami und Pilzen")).await;
    assert!(
        done.stderr
            .contains("heard: GetMeSomePizzaIntent (Size=große, Toppings=salami und pilzen)"),
        "{}",
        done.stderr
    );
    assert!(
        done.stdout.contains(
            "Alexa: Ich habe deine Pizzabestellung erhalten. \
             Bestätige sie mit dem Code, den ich dir per E-Mail geschickt habe."
        ),
        "{}",
        done.stdout
    );

    const ZIFFERN: [&str; 10] = [
        "null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
    ];
    let code = app.last_code().code;
    let spoken: Vec<&str> = code
        .bytes()
        .map(|digit| ZIFFERN[usize::from(digit - b'0')])
        .collect();
    let done = say(german(&format!("bestätige {}", spoken.join(" ")))).await;
    assert!(
        done.stderr
            .contains(&format!("heard: AuthorizePizzaOrderIntent (Code={code})")),
        "{}",
        done.stderr
    );
    assert!(
        done.stdout.contains(
            "Alexa: Bestellung bestätigt. Deine große Pizza mit Salami und Pilzen ist unterwegs."
        ),
        "{}",
        done.stdout
    );

    // The dialog says how to start in its language.
    let done = pod_with_input(
        &app,
        &["dialog", "--locale", "de-DE", "--url", &url],
        "öffne pizza on demand\nHilfe\n",
    )
    .await;
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stdout.contains("in de-DE") && done.stdout.contains("Try: öffne pizza on demand"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout
            .contains("Alexa: Du kannst eine Pizza bestellen"),
        "{}",
        done.stdout
    );

    // A locale without an interaction model is refused, naming those there are.
    let done = app
        .pod(&["simulate", "--locale", "fr-FR", "--url", &url, "bonjour"])
        .await;
    assert!(!done.status.success(), "{}", done.stdout);
    assert!(
        done.stderr.contains("fr-FR") && done.stderr.contains("en-US, en-GB"),
        "{}",
        done.stderr
    );
    assert_for_people(&done);
}
