//! Black-box tests of the `pod` binary: each test starts the real server on
//! a free port with a fresh data folder, and talks to it over HTTP as Alexa
//! (signed with the development CA, like `pod simulate`), as a script on
//! `/api`, and as an operator on the command line.
//!
//! The exhaustive request-verification cases (the eight certificate-URL
//! cases, expired and not-yet-valid certificates, no SAN, untrusted roots,
//! Amazon's real chains at pinned times) live in
//! `pod-alexa/tests/alexa/verify.rs`; here each kind of rejection
//! is shown once through the real server, with no order touched.
//!
//! `cluster` runs several servers on one fresh PostgreSQL database (named
//! by `POD_TEST_POSTGRES_URL`; `scripts/test.sh` starts one) behind nginx
//! configured with `deploy/nginx/pod.conf`: the limits hold across
//! servers, a server killed under load loses nothing that was answered, and
//! live updates cross servers. `POD_SKIP_POSTGRES=1` at build time leaves
//! those tests out.

mod support;

#[path = "blackbox/cli.rs"]
mod cli;
#[cfg(not(pod_skip_postgres))]
#[path = "blackbox/cluster.rs"]
mod cluster;

/// What stands in for the cluster tests when they are left out.
#[cfg(pod_skip_postgres)]
#[test]
fn cluster_tests_skipped() {
    eprintln!(
        "POD_SKIP_POSTGRES=1: the cluster tests were left out of this build; \
         `bash scripts/test.sh` runs them against a throwaway PostgreSQL cluster"
    );
}
#[path = "blackbox/deliveries.rs"]
mod deliveries;
#[path = "blackbox/dialogs.rs"]
mod dialogs;
#[path = "blackbox/events.rs"]
mod events;
#[path = "blackbox/exposure.rs"]
mod exposure;
#[path = "blackbox/faults.rs"]
mod faults;
#[path = "blackbox/hardening.rs"]
mod hardening;
#[path = "blackbox/oauth.rs"]
mod oauth;
#[path = "blackbox/progressive.rs"]
mod progressive;
#[path = "blackbox/replay.rs"]
mod replay;
#[path = "blackbox/simulate.rs"]
mod simulate;

use pod_adapters_auth0::fake::{
    API_AUDIENCE, API_SIGNING_SECRET, CLIENT_ID, CLIENT_SECRET, DOMAIN, FakeAlgorithm, FakeAuth0,
    FakeUser,
};
use pod_alexa::verify::format_iso8601;
use pod_domain::Timestamp;
use pod_server::simulate::{Simulator, SkillAnswer, Utterance};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::{SKILL_ID, Spawn, TestApp, spoken, write_file, wrong_code};

const WELCOME: &str = "Welcome to Pizza on Demand. How can I help you?";
const RECEIVED_EMAIL: &str = "I have received your pizza request. Authorize the transaction using the code received in your email.";
const RECEIVED_PHONE: &str = "I have received your pizza request. Authorize the transaction using the code received in your phone.";
const ORDER: &str = "get me a large pizza with pepperoni";

fn speech(answer: &SkillAnswer) -> &str {
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer
        .speech()
        .unwrap_or_else(|| panic!("no speech: {}", answer.body))
}

/// Fails unless what Alexa says in `answer` contains `words`.
fn assert_says(answer: &SkillAnswer, words: &str) {
    let speech = speech(answer);
    assert!(speech.contains(words), "{speech}");
}

/// Authorizes the pending order with `code`, spoken, which confirms it.
async fn authorize_confirms(alexa: &mut Simulator, code: &str) -> SkillAnswer {
    let answer = alexa
        .say(&format!("authorize {}", spoken(code)))
        .await
        .unwrap();
    let speech = speech(&answer);
    assert!(speech.starts_with("Order confirmed."), "{speech}");
    answer
}

/// Alexa needs `shouldEndSession` on every answer with speech.
fn session_open(answer: &SkillAnswer) -> bool {
    let flag = &answer.body["response"]["shouldEndSession"];
    assert!(
        flag.is_boolean(),
        "shouldEndSession missing: {}",
        answer.body
    );
    !flag.as_bool().unwrap()
}

fn order_intent() -> Utterance {
    Utterance::Intent {
        name: "GetMeSomePizzaIntent".into(),
        slots: vec![
            ("Size".into(), "large".into()),
            ("Toppings".into(), "pepperoni".into()),
        ],
    }
}

/// The holder of `token` has no order, pending or confirmed.
async fn assert_no_orders(app: &TestApp, token: &str) {
    assert_eq!(
        app.orders(token).await,
        json!({"pending": null, "confirmed": []})
    );
}

fn now() -> Timestamp {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    Timestamp::from_unix_millis(i64::try_from(millis).unwrap())
}

// ------------------------------------------------------ the conversation

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_conversation_orders_and_confirms_a_pizza() {
    let app = TestApp::spawn().await;
    let token = app.token("demo").await;
    let mut alexa = app.alexa(Some(&token));

    let launch = alexa.say("open pizza on demand").await.unwrap();
    assert_eq!(speech(&launch), WELCOME);
    assert!(session_open(&launch));
    assert!(launch.reprompt().is_some());

    let order = alexa.say(ORDER).await.unwrap();
    assert_eq!(speech(&order), RECEIVED_EMAIL);
    assert!(session_open(&order));
    assert_eq!(order.card_type(), Some("Simple"));

    let sent = app.last_code();
    assert_eq!(app.outbox().len(), 1);
    assert_eq!(sent.to, "demo@example.com");
    assert_eq!(sent.channel, "email");
    let order_id = sent.order_id.clone().expect("an order code");
    let orders = app.orders(&token).await;
    assert_eq!(orders["pending"]["id"], order_id.as_str());
    assert_eq!(orders["pending"]["state"], "awaiting_code");
    assert_eq!(orders["pending"]["size"], "large");
    assert_eq!(orders["pending"]["toppings"], json!(["pepperoni"]));
    assert_eq!(orders["pending"]["failed_attempts"], 0);
    assert_eq!(orders["confirmed"], json!([]));

    let wrong = alexa
        .say(&format!("authorize {}", spoken(&wrong_code(&sent.code))))
        .await
        .unwrap();
    assert!(
        speech(&wrong).contains("not right") && speech(&wrong).contains("2 attempts left"),
        "{}",
        speech(&wrong)
    );
    assert!(session_open(&wrong));
    assert_eq!(app.orders(&token).await["pending"]["failed_attempts"], 1);

    let right = authorize_confirms(&mut alexa, &sent.code).await;
    assert!(!session_open(&right));

    let orders = app.orders(&token).await;
    assert_eq!(orders["pending"], Value::Null);
    assert_eq!(orders["confirmed"][0]["id"], order_id.as_str());
    assert_eq!(orders["confirmed"][0]["state"], "confirmed");
    assert_eq!(orders["confirmed"].as_array().unwrap().len(), 1);

    let (status, cleared) = app
        .api(Method::DELETE, "/api/orders/confirmed", Some(&token), None)
        .await;
    assert_eq!((status, cleared), (200, json!({"cleared": 1})));
    assert_no_orders(&app, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_skill_answers_odd_turns_helpfully() {
    let app = TestApp::spawn().await;
    let token = app.token("demo").await;

    // No token: a LinkAccount card.
    let mut stranger = app.alexa(None);
    let answer = stranger.say(ORDER).await.unwrap();
    assert_eq!(answer.card_type(), Some("LinkAccount"));
    assert_says(&answer, "link");
    assert!(!session_open(&answer));
    // A token that is not one: the same.
    let mut forger = app.alexa(Some("not.a.token"));
    let answer = forger.say(ORDER).await.unwrap();
    assert_eq!(answer.card_type(), Some("LinkAccount"));

    let mut alexa = app.alexa(Some(&token));
    let answer = alexa
        .say("get me a large pizza with anchovies")
        .await
        .unwrap();
    assert_says(&answer, "anchovies");
    assert!(session_open(&answer));

    let answer = alexa.intent("MakeMeCoffeeIntent", &[]).await.unwrap();
    assert_says(&answer, "get me a large pizza with pepperoni");
    assert!(session_open(&answer));

    let help = alexa.say("help").await.unwrap();
    assert_says(&help, "authorize");
    assert!(session_open(&help));
    let fallback = alexa.say("sing me a song").await.unwrap();
    assert!(session_open(&fallback));
    let stop = alexa.say("stop").await.unwrap();
    assert_eq!(speech(&stop), "Goodbye.");
    assert!(!session_open(&stop));

    let ended = alexa.send(&Utterance::SessionEnded).await.unwrap();
    assert_eq!(ended.status, 200);
    assert_eq!(ended.body, json!({"version": "1.0", "response": {}}));

    // An authorization with nothing to authorize, and a code not heard.
    let answer = alexa.say("authorize one two three four").await.unwrap();
    assert_says(&answer, "no order waiting");
    let answer = alexa
        .intent("AuthorizePizzaOrderIntent", &[("Code".into(), "?".into())])
        .await
        .unwrap();
    assert_says(&answer, "didn't catch");
    assert!(session_open(&answer));

    assert!(app.outbox().is_empty());
    assert_no_orders(&app, &token).await;
}

// ------------------------------------------------------ verification

/// What a test does to an otherwise valid, signed order request.
enum Tamper {
    SignOtherBytes,
    NoSignature256,
    Sha1Only,
    ChainUrl(&'static str),
    TimestampShift(i64),
    SkillId(&'static str),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_fail_verification_are_refused_and_touch_nothing() {
    let app = Spawn::serve().env("POD_SKILL_ID", SKILL_ID).start().await;
    let token = app.token("demo").await;
    let keys = app.dev_keys();
    let mut alexa = app.alexa_for_skill(Some(&token), Some(SKILL_ID));

    let cases = [
        (
            "signature over other bytes",
            Tamper::SignOtherBytes,
            "signature_invalid",
        ),
        (
            "no Signature-256",
            Tamper::NoSignature256,
            "signature_missing",
        ),
        (
            "SHA-1 Signature only",
            Tamper::Sha1Only,
            "signature_missing",
        ),
        (
            "chain on another host",
            Tamper::ChainUrl("https://evil.example.com/echo.api/pod-dev-signing-cert.pem"),
            "cert_url",
        ),
        (
            "chain over http",
            Tamper::ChainUrl("http://s3.amazonaws.com/echo.api/pod-dev-signing-cert.pem"),
            "cert_url",
        ),
        (
            "chain outside echo.api",
            Tamper::ChainUrl("https://s3.amazonaws.com/EcHo.aPi/pod-dev-signing-cert.pem"),
            "cert_url",
        ),
        ("151 s old", Tamper::TimestampShift(-151), "timestamp"),
        ("151 s ahead", Tamper::TimestampShift(151), "timestamp"),
        (
            "another skill",
            Tamper::SkillId("amzn1.ask.skill.someone-else"),
            "skill_id",
        ),
    ];
    for (name, tamper, reason) in &cases {
        let mut envelope = serde_json::to_value(alexa.envelope(&order_intent())).unwrap();
        match tamper {
            Tamper::TimestampShift(seconds) => {
                let shift = Duration::from_secs(seconds.unsigned_abs());
                let at = if *seconds < 0 {
                    now().minus(shift)
                } else {
                    now().plus(shift)
                };
                envelope["request"]["timestamp"] = json!(format_iso8601(at));
            }
            Tamper::SkillId(id) => {
                envelope["context"]["System"]["application"]["applicationId"] = json!(id);
                envelope["session"]["application"]["applicationId"] = json!(id);
            }
            _ => {}
        }
        let body = serde_json::to_vec(&envelope).unwrap();
        let mut headers = vec![("SignatureCertChainUrl", keys.chain_url().to_owned())];
        match tamper {
            Tamper::SignOtherBytes => {
                headers.push(("Signature-256", keys.sign(b"{\"other\":\"bytes\"}")))
            }
            Tamper::NoSignature256 => {}
            Tamper::Sha1Only => headers.push(("Signature", keys.sign(&body))),
            Tamper::ChainUrl(url) => {
                headers[0].1 = (*url).to_owned();
                headers.push(("Signature-256", keys.sign(&body)));
            }
            _ => headers.push(("Signature-256", keys.sign(&body))),
        }
        let (status, answer) = app.post_alexa(&headers, body).await;
        assert_eq!(status, 400, "{name}: {answer}");
        assert_eq!(answer["error"], *reason, "{name}: {answer}");
        assert!(answer["message"].is_string(), "{name}: {answer}");
    }

    assert!(app.outbox().is_empty(), "no code was sent");
    assert_no_orders(&app, &token).await;
    let metrics = app.metrics().await;
    for (_, _, reason) in &cases {
        assert!(
            metrics.contains(&format!(
                "pod_alexa_verification_failures_total{{reason=\"{reason}\"}}"
            )),
            "{reason} not counted:\n{metrics}"
        );
    }

    // The same request untampered is accepted: the cases above failed for
    // the one thing each changed.
    let answer = alexa.send(&order_intent()).await.unwrap();
    assert_eq!(speech(&answer), RECEIVED_EMAIL);
    assert_eq!(app.outbox().len(), 1);
    // The accepted order was committed by the group-committing writer, and
    // its batch is in the metrics.
    let metrics = app.metrics().await;
    let batches: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("pod_store_commit_batch_size_count "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(batches >= 1, "no commit batch observed:\n{metrics}");
}

// ------------------------------------------------------ abuse

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brute_force_cancels_the_order_and_the_right_code_no_longer_confirms() {
    let app = TestApp::spawn().await;
    let token = app.token("demo").await;
    let mut alexa = app.alexa(Some(&token));
    alexa.say(ORDER).await.unwrap();
    let code = app.last_code().code;
    let wrong = wrong_code(&code);

    for left in ["2 attempts left", "1 attempt left"] {
        let answer = alexa.say(&format!("authorize {wrong}")).await.unwrap();
        assert_says(&answer, left);
        assert!(session_open(&answer));
    }
    let last = alexa.say(&format!("authorize {wrong}")).await.unwrap();
    assert_says(&last, "cancelled the order");
    assert!(!session_open(&last));

    let late = alexa.say(&format!("authorize {code}")).await.unwrap();
    assert_says(&late, "no order waiting");
    let (status, body) = app
        .api(
            Method::POST,
            "/api/orders/confirm",
            Some(&token),
            Some(json!({"code": code})),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], "no_pending_order");
    assert_no_orders(&app, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sixth_order_in_an_hour_is_refused() {
    let app = TestApp::spawn().await;
    let token = app.token("demo").await;
    let mut alexa = app.alexa(Some(&token));
    for n in 0..5 {
        let answer = alexa.say(ORDER).await.unwrap();
        let expected = if n == 0 {
            RECEIVED_EMAIL.to_owned()
        } else {
            format!("I cancelled your previous order. {RECEIVED_EMAIL}")
        };
        assert_eq!(speech(&answer), expected);
    }
    let before = app.orders(&token).await;
    let refused = alexa.say(ORDER).await.unwrap();
    assert_says(&refused, "too many codes");
    assert!(!session_open(&refused));

    let sent = app.outbox();
    assert_eq!(sent.len(), 5, "no sixth code");
    assert_eq!(app.orders(&token).await, before);
    assert_eq!(
        before["pending"]["id"].as_str(),
        sent[4].order_id.as_deref()
    );
    // The API shares the limit.
    let (status, body) = app
        .api(
            Method::POST,
            "/api/orders",
            Some(&token),
            Some(json!({"size": "small", "toppings": ["ham"]})),
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "rate_limited");
    // The pending order still confirms with its code.
    let right = alexa
        .say(&format!("authorize {}", sent[4].code))
        .await
        .unwrap();
    assert!(speech(&right).starts_with("Order confirmed."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_malformed_and_unknown_requests_are_refused_and_touch_nothing() {
    let app = TestApp::spawn().await;
    let token = app.token("demo").await;
    let keys = app.dev_keys();
    let mut alexa = app.alexa(Some(&token));
    alexa.say(ORDER).await.unwrap();
    let before = app.orders(&token).await;
    assert_eq!(before["pending"]["state"], "awaiting_code");

    let signed = |body: &[u8]| {
        vec![
            ("SignatureCertChainUrl", keys.chain_url().to_owned()),
            ("Signature-256", keys.sign(body)),
        ]
    };

    // Over the 64 KiB limit: a real order envelope padded with an unknown
    // field, signed. (100 KiB, not more: pod answers 413 and closes as soon
    // as it has the headers, and a body much larger than the socket buffers
    // would make the client fail to finish sending instead of reading it.)
    let mut huge = serde_json::to_value(alexa.envelope(&order_intent())).unwrap();
    huge["padding"] = json!("x".repeat(100 * 1024));
    let body = serde_json::to_vec(&huge).unwrap();
    let (status, answer) = app.post_alexa(&signed(&body), body).await;
    assert_eq!(status, 413, "{answer}");

    // Not JSON, signed correctly.
    let body = b"{\"request\": {\"type\": \"IntentRequest\"".to_vec();
    let (status, answer) = app.post_alexa(&signed(&body), body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "body_invalid");

    // A request type pod does not handle, signed correctly.
    let mut odd = serde_json::to_value(alexa.envelope(&order_intent())).unwrap();
    odd["request"]["type"] = json!("Messaging.MessageReceived");
    let body = serde_json::to_vec(&odd).unwrap();
    let (status, answer) = app.post_alexa(&signed(&body), body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "unsupported_request_type");

    // Neither signed nor JSON.
    let (status, _) = app.post_alexa(&[], b"\x00\xffgarbage".to_vec()).await;
    assert_eq!(status, 400);

    assert_eq!(app.orders(&token).await, before);
    assert_eq!(app.outbox().len(), 1);
}

// ------------------------------------------------------ settings and commands

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_setting_stops_start_up_and_names_itself() {
    let cases = [
        (
            Spawn::serve().env("POD_ALEXA_VERIFY", "maybe"),
            "POD_ALEXA_VERIFY",
        ),
        (
            Spawn::default()
                .args(["serve"])
                .env("POD_LISTEN", "nowhere"),
            "POD_LISTEN",
        ),
        (
            Spawn::serve().env("POD_CODE_DIGITS", "3"),
            "POD_CODE_DIGITS",
        ),
        (Spawn::serve().env("POD_BASE_PATH", "/a b"), "POD_BASE_PATH"),
        (
            Spawn::serve().env("POD_ALEXA_TIMESTAMP_TOLERANCE", "151"),
            "POD_ALEXA_TIMESTAMP_TOLERANCE",
        ),
        (
            Spawn::serve().env("POD_TLS_CERT", "/nonexistent.pem"),
            "POD_TLS_CERT",
        ),
        (Spawn::serve().env("AUTH0_DOMAIN", DOMAIN), "API_ID"),
    ];
    for (spawn, setting) in cases {
        let done = spawn.run_to_exit().await;
        assert!(!done.status.success(), "{setting}: started anyway");
        assert!(
            done.stderr.contains(setting),
            "{setting} not named: {}",
            done.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commands_manage_users_tokens_and_the_outbox() {
    let app = TestApp::spawn().await;

    let users = app.pod_ok(&["users", "list"]).await;
    assert!(
        users.contains("demo") && users.contains("demo@example.com"),
        "first start adds demo: {users}"
    );
    let added = app
        .pod_ok(&[
            "users",
            "add",
            "alice",
            "--email",
            "alice@example.com",
            "--phone",
            "+15550100",
        ])
        .await;
    assert!(added.contains("added alice"), "{added}");
    let again = app
        .pod(&["users", "add", "alice", "--email", "other@example.com"])
        .await;
    assert!(!again.status.success(), "a second alice: {}", again.stdout);
    let bad = app.pod(&["users", "add", "bob", "--email", "nope"]).await;
    assert!(!bad.status.success());
    let users = app.pod_ok(&["users", "list"]).await;
    assert!(
        users.contains("alice") && users.contains("+15550100"),
        "{users}"
    );
    let nobody = app.pod(&["token", "nobody"]).await;
    assert!(!nobody.status.success());
    assert!(nobody.stderr.contains("nobody"), "{}", nobody.stderr);

    let token = app.token("alice").await;
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let mut alexa = app.alexa(Some(&token));
    let answer = alexa.say(ORDER).await.unwrap();
    assert_eq!(speech(&answer), RECEIVED_PHONE);

    let line = app.pod_ok(&["outbox", "--json", "--last", "1"]).await;
    assert_eq!(line.lines().count(), 1, "{line}");
    let entry: Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(entry["to"], "+15550100");
    assert_eq!(entry["channel"], "sms");
    let code = entry["code"].as_str().unwrap();
    assert!(
        code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit()),
        "{entry}"
    );
    let pending = app.orders(&token).await;
    assert_eq!(entry["order_id"], pending["pending"]["id"]);
    assert!(
        entry["at"].as_str().is_some_and(|at| at.ends_with('Z')),
        "{entry}"
    );

    let for_demo = app.pod_ok(&["outbox", "--json", "--user", "demo"]).await;
    assert_eq!(for_demo.trim(), "", "demo got no code");
    let text = app.pod_ok(&["outbox", "--user", "alice"]).await;
    assert!(text.contains(code), "{text}");

    let right = alexa.say(&format!("authorize {code}")).await.unwrap();
    assert!(speech(&right).starts_with("Order confirmed."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_pod_serves_from_the_environment_under_a_base_path() {
    let app = Spawn::default()
        .env("POD_LISTEN", "127.0.0.1:0")
        .env("POD_BASE_PATH", "/wt")
        .start()
        .await;
    let get = |path: &str| app.client.get(app.url(path)).send();
    assert_eq!(get("/wt/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/healthz").await.unwrap().status(), 404);
    let token = app.token("demo").await;
    let mut alexa =
        Simulator::new(app.url("/wt/alexa"), app.dev_keys(), Some(token), None).expect("simulator");
    let answer = alexa.say(ORDER).await.unwrap();
    assert_eq!(speech(&answer), RECEIVED_EMAIL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_cleanly() {
    let app = TestApp::spawn().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let status = app.terminate().await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = write_file(dir.path(), "cert.pem", &certified.cert.pem());
    let key = write_file(
        dir.path(),
        "key.pem",
        &certified.signing_key.serialize_pem(),
    );
    let app = Spawn::serve()
        .env("POD_TLS_CERT", cert.display().to_string())
        .env("POD_TLS_KEY", key.display().to_string())
        .start_in(dir)
        .await;
    assert!(app.base.starts_with("https://"), "{}", app.base);
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap()])
        .resolve("localhost", app.addr)
        .timeout(support::PATIENCE)
        .build()
        .unwrap();
    let response = client
        .get(format!("https://localhost:{}/healthz", app.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
}

// ------------------------------------------------------ Auth0 mode

/// Auth0 mode against the fake tenant. `POD_ALEXA_VERIFY=dev`: strict mode
/// would fetch Amazon's chain from the network, which tests do not have;
/// dev mode still checks every signature, against the local CA.
fn auth0_server(fake: &FakeAuth0) -> Spawn {
    Spawn::serve()
        .env("AUTH0_BASE_URL", fake.uri())
        .env("POD_SKILL_ID", SKILL_ID)
        .env("POD_ALEXA_VERIFY", "dev")
}

/// Order, the code the fake "sent" to `address`, a wrong code, the right one.
async fn auth0_conversation(
    app: &TestApp,
    fake: &FakeAuth0,
    token: &str,
    address: &str,
    received: &str,
) {
    let mut alexa: Simulator = app.alexa_for_skill(Some(token), Some(SKILL_ID));
    let order = alexa.say(ORDER).await.unwrap();
    assert_eq!(speech(&order), received);
    let code = fake.last_code(address).expect("the fake sent a code");
    assert_eq!(app.orders(token).await["pending"]["state"], "awaiting_code");

    let wrong = alexa
        .say(&format!("authorize {}", spoken(&wrong_code(&code))))
        .await
        .unwrap();
    assert_says(&wrong, "not right");
    assert!(session_open(&wrong));

    authorize_confirms(&mut alexa, &code).await;
    let orders = app.orders(token).await;
    assert_eq!(orders["pending"], Value::Null);
    assert_eq!(orders["confirmed"][0]["state"], "confirmed");
    assert!(app.outbox().is_empty(), "Auth0 mode writes no outbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth0_mode_completes_the_voice_conversation_with_rs256_tokens() {
    let fake = FakeAuth0::start().await;
    fake.add_user(FakeUser::new("auth0|alice").with_email("alice@example.com"));
    let app = auth0_server(&fake)
        .env("AUTH0_DOMAIN", DOMAIN)
        .env("API_ID", API_AUDIENCE)
        .env("APP_CLIENT_ID", CLIENT_ID)
        .env("APP_CLIENT_SECRET", CLIENT_SECRET)
        .start()
        .await;
    let token = fake.mint_access_token("auth0|alice", FakeAlgorithm::Rs256);
    auth0_conversation(&app, &fake, &token, "alice@example.com", RECEIVED_EMAIL).await;

    // A token signed with the other algorithm is refused: no account linked.
    let forged = fake.mint_access_token("auth0|alice", FakeAlgorithm::Hs256);
    let mut alexa = app.alexa_for_skill(Some(&forged), Some(SKILL_ID));
    let answer = alexa.say(ORDER).await.unwrap();
    assert_eq!(answer.card_type(), Some("LinkAccount"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth0_mode_reads_the_original_secrets_ini() {
    let fake = FakeAuth0::start().await;
    // The original's tenant: HS256 access tokens (API_SIGNING_KEY) and HS256
    // id tokens signed with the client secret, which is what pod assumes when
    // API_SIGNING_KEY is set and AUTH0_ID_TOKEN_ALG is not. (`config` also
    // tells the fake how to sign; the configuration it returns is unused.)
    let _ = fake.config(FakeAlgorithm::Hs256, FakeAlgorithm::Hs256);
    fake.add_user(FakeUser::new("auth0|bob").with_metadata_phone("+15550199"));
    let dir = tempfile::tempdir().unwrap();
    // The original sample's file: Auth0 and Pusher settings, KEY=value.
    let secrets = write_file(
        dir.path(),
        "secrets.ini",
        &format!(
            "AUTH0_DOMAIN={DOMAIN}\nAPI_ID={API_AUDIENCE}\nAPI_SIGNING_KEY={API_SIGNING_SECRET}\n\
             APP_CLIENT_ID={CLIENT_ID}\nAPP_CLIENT_SECRET={CLIENT_SECRET}\n\
             PUSHER_APP_ID=123456\nPUSHER_KEY=0123456789abcdef\nPUSHER_SECRET=fedcba9876543210\nPUSHER_CLUSTER=eu\n"
        ),
    );
    let app = auth0_server(&fake)
        .args(["--secrets", &secrets.display().to_string()])
        .log("info")
        .start_in(dir)
        .await;
    assert!(
        app.stderr_text().contains("PUSHER"),
        "the PUSHER_* note: {}",
        app.stderr_text()
    );
    let token = fake.mint_access_token("auth0|bob", FakeAlgorithm::Hs256);
    auth0_conversation(&app, &fake, &token, "+15550199", RECEIVED_PHONE).await;
    let secret_leaked = app.stderr_text().contains(CLIENT_SECRET)
        || app.stderr_text().contains(API_SIGNING_SECRET)
        || app.stderr_text().contains(&token);
    assert!(!secret_leaked, "a secret reached the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_started_together_on_a_new_data_folder_all_succeed() {
    // Each command opens (and so migrates) the new database at once.
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let env: std::collections::BTreeMap<String, String> = [(
            "POD_DATA_DIR".to_owned(),
            dir.path().join("data").display().to_string(),
        )]
        .into();
        let tasks: Vec<_> = (0..4)
            .map(|n| {
                let env = env.clone();
                let args: Vec<String> = ["users", "add", &format!("u{n}"), "--email"]
                    .iter()
                    .map(|a| (*a).to_owned())
                    .chain([format!("u{n}@example.com")])
                    .collect();
                tokio::spawn(async move { support::run(&args, &env).await })
            })
            .collect();
        for task in tasks {
            let done = task.await.unwrap();
            assert!(
                done.status.success(),
                "round {round}: {}\n{}",
                done.stdout,
                done.stderr
            );
        }
        let list = support::run(&["users".to_owned(), "list".to_owned()], &env).await;
        for n in 0..4 {
            assert!(
                list.stdout.contains(&format!("u{n}@example.com")),
                "{}",
                list.stdout
            );
        }
    }
}
