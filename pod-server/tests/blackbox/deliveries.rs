//! Real code deliveries through the real server: with `POD_TWILIO_*`
//! pointing at a fake Twilio on loopback, a voice order for a person with
//! a phone sends one SMS there (never to the outbox) and its code confirms
//! the order; a number Twilio refuses cancels the order with the apology;
//! with `POD_WEBHOOK_*`, email codes reach the operator's receiver signed;
//! and a bad setting stops the start naming the variable, not the secret.

use std::collections::BTreeMap;

use pod_adapters_local::webhook_signature;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::hardening::logs_code;
use super::{ORDER, RECEIVED_EMAIL, RECEIVED_PHONE, authorize_confirms, speech};
use crate::support::{Spawn, TestApp};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "fake-twilio-auth-token-0042";
const FROM: &str = "+15005550006";
const PHONE: &str = "+15550100123";
const MESSAGES: &str = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json";
const HOOK_SECRET: &str = "fake-webhook-secret-0123456789";

/// A fake Twilio that queues every message.
async fn fake_twilio(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

fn queued() -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({
        "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "account_sid": ACCOUNT,
        "status": "queued",
    }))
}

/// `pod serve` sending SMS codes through the fake at `base`.
fn with_twilio(base: &str) -> Spawn {
    Spawn::serve()
        .env("POD_TWILIO_ACCOUNT_SID", ACCOUNT)
        .env("POD_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .env("POD_TWILIO_FROM", FROM)
        .env("POD_TWILIO_BASE_URL", base)
        .log("info")
}

/// Adds `alice` with a phone, so that her codes go by SMS.
async fn alice_with_a_phone(app: &TestApp) -> String {
    app.pod_ok(&[
        "users",
        "add",
        "alice",
        "--email",
        "alice@example.com",
        "--phone",
        PHONE,
    ])
    .await;
    app.token("alice").await
}

fn form(request: &Request) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// The digits after "Your pod code is ".
fn code_in(text: &str) -> String {
    let at = text.find("Your pod code is ").expect("a code in the text") + 17;
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_twilio_a_phone_gets_one_sms_and_its_code_confirms_the_order() {
    let twilio = fake_twilio(queued()).await;
    let app = with_twilio(&twilio.uri()).start().await;
    let token = alice_with_a_phone(&app).await;
    let mut alexa = app.alexa(Some(&token));
    assert_eq!(speech(&alexa.say(ORDER).await.unwrap()), RECEIVED_PHONE);

    let sent = twilio.received_requests().await.unwrap();
    assert_eq!(sent.len(), 1, "one SMS");
    let authorization = sent[0].headers["authorization"].to_str().unwrap();
    assert!(authorization.starts_with("Basic "), "{authorization}");
    let fields = form(&sent[0]);
    assert_eq!(fields["To"], PHONE);
    assert_eq!(fields["From"], FROM);
    let code = code_in(&fields["Body"]);
    assert_eq!(code.len(), 4, "{fields:?}");
    assert!(app.outbox().is_empty(), "no outbox line for an SMS code");

    authorize_confirms(&mut alexa, &code).await;
    let log = app.stderr_text();
    assert!(log.contains("SMS codes go through Twilio"), "{log}");
    assert!(
        logs_code(&log, &code).is_none(),
        "a log line carries the code"
    );
    assert!(!log.contains(AUTH_TOKEN), "a log line carries the token");
    assert!(!log.contains(PHONE), "a log line carries the phone number");

    // Email codes still go to the outbox: no delivery is configured for them.
    let demo = app.token("demo").await;
    let mut other = app.alexa(Some(&demo));
    assert_eq!(speech(&other.say(ORDER).await.unwrap()), RECEIVED_EMAIL);
    assert_eq!(app.outbox().len(), 1);
    assert_eq!(twilio.received_requests().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_twilio_refuses_cancels_the_order_with_an_apology() {
    let twilio = fake_twilio(ResponseTemplate::new(400).set_body_json(json!({
        "code": 21211,
        "message": format!("The 'To' number {PHONE} is not a valid phone number."),
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    })))
    .await;
    let app = with_twilio(&twilio.uri()).start().await;
    let token = alice_with_a_phone(&app).await;
    let mut alexa = app.alexa(Some(&token));
    let answer = alexa.say(ORDER).await.unwrap();
    assert!(
        speech(&answer).contains("couldn't send your authorization code"),
        "{}",
        speech(&answer)
    );
    assert_eq!(twilio.received_requests().await.unwrap().len(), 1);
    assert!(app.outbox().is_empty());
    let orders = app.orders(&token).await;
    assert_eq!(orders["pending"], Value::Null, "{orders}");
    let log = app.stderr_text();
    assert!(log.contains("21211"), "the refusal is logged: {log}");
    assert!(!log.contains(PHONE), "a log line carries the phone number");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_webhook_email_codes_reach_the_receiver_signed() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/pod-codes"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    let app = Spawn::serve()
        .env("POD_WEBHOOK_URL", format!("{}/pod-codes", receiver.uri()))
        .env("POD_WEBHOOK_SECRET", HOOK_SECRET)
        .env("POD_WEBHOOK_CHANNELS", "email")
        .start()
        .await;
    let token = app.token("demo").await;
    let mut alexa = app.alexa(Some(&token));
    assert_eq!(speech(&alexa.say(ORDER).await.unwrap()), RECEIVED_EMAIL);

    let got = receiver.received_requests().await.unwrap();
    assert_eq!(got.len(), 1);
    let header = |name: &str| got[0].headers[name].to_str().unwrap().to_owned();
    let timestamp: i64 = header("pod-timestamp").parse().unwrap();
    assert_eq!(
        header("pod-signature"),
        webhook_signature(HOOK_SECRET.as_bytes(), timestamp, &got[0].body)
    );
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["id"], header("pod-delivery-id"));
    assert_eq!(body["channel"], "email");
    assert_eq!(body["to"], "demo@example.com");
    assert_eq!(body["purpose"], "order");
    let orders = app.orders(&token).await;
    assert_eq!(body["order_id"], orders["pending"]["id"]);
    assert!(app.outbox().is_empty(), "no outbox line for a webhook code");
    let code = body["code"].as_str().unwrap().to_owned();
    assert_eq!(code_in(body["message"].as_str().unwrap()), code);
    authorize_confirms(&mut alexa, &code).await;
}

#[tokio::test]
async fn a_bad_delivery_setting_stops_the_start_naming_it_without_the_secret() {
    let done = Spawn::serve()
        .env("POD_TWILIO_ACCOUNT_SID", ACCOUNT)
        .env("POD_TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .run_to_exit()
        .await;
    assert!(!done.status.success());
    assert!(
        done.stderr
            .contains("POD_TWILIO_ACCOUNT_SID is set but Twilio has no sender"),
        "{}",
        done.stderr
    );
    assert!(!done.stderr.contains(AUTH_TOKEN), "{}", done.stderr);

    let done = Spawn::serve()
        .env("POD_WEBHOOK_URL", "http://hooks.example.com/pod")
        .env("POD_WEBHOOK_SECRET", HOOK_SECRET)
        .run_to_exit()
        .await;
    assert!(!done.status.success());
    assert!(done.stderr.contains("POD_WEBHOOK_URL: "), "{}", done.stderr);
    assert!(!done.stderr.contains(HOOK_SECRET), "{}", done.stderr);
    assert!(
        !done.stderr.contains("hooks.example.com"),
        "{}",
        done.stderr
    );
}
