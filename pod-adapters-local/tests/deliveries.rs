//! The real code deliveries against faithful fakes on 127.0.0.1
//! (wiremock): Twilio's Messaging API and a webhook receiver. What the fake
//! received is checked field by field (form, Basic auth, JSON, the HMAC
//! recomputed here independently); every provider refusal maps to its
//! outcome; and the retry rule holds: 429, 503 and a refused connection are
//! sent again (and the code arrives once), a timeout is never sent again.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pod_adapters_local::*;
use pod_domain::{Channel, CodeCheck, CustomerId, Destination, OrderId, Timestamp};
use pod_ports::testing::ManualClock;
use pod_ports::{CodeError, CodePurpose, OneTimeCode, OneTimeCodes};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// 2025-01-02T03:04:05.678Z
const T0: i64 = 1_735_787_045_678;
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token-sekrit";
const KEY_SID: &str = "SKfedcba9876543210fedcba9876543210";
const KEY_SECRET: &str = "api-key-sekrit";
const SERVICE: &str = "MG00112233445566778899aabbccddeeff";
const FROM: &str = "+15005550006";
const PHONE: &str = "+15550100123";
const SECRET: &str = "whsec-test-0123456789abcdef";
const MESSAGES: &str = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json";

/// A short budget for tests: quick retries, a 1.5 s deadline.
fn budget() -> DeliveryBudget {
    DeliveryBudget {
        deadline: Duration::from_millis(1500),
        connect_timeout: Duration::from_millis(300),
        retries: 2,
        backoff: Duration::from_millis(20),
    }
}

fn twilio_config(base: &str) -> TwilioConfig {
    TwilioConfig {
        account_sid: ACCOUNT.into(),
        credentials: TwilioCredentials::AuthToken(TOKEN.into()),
        sender: TwilioSender::From(FROM.into()),
        base_url: base.into(),
        budget: budget(),
    }
}

fn twilio(server: &MockServer) -> TwilioDelivery {
    TwilioDelivery::new(&twilio_config(&server.uri())).unwrap()
}

fn clock() -> Arc<ManualClock> {
    ManualClock::starting_at(Timestamp::from_unix_millis(T0))
}

fn webhook_config(url: &str, channels: &[Channel]) -> WebhookConfig {
    WebhookConfig {
        url: url.into(),
        secret: SECRET.into(),
        channels: channels.to_vec(),
        budget: budget(),
    }
}

fn webhook(server: &MockServer) -> WebhookDelivery {
    WebhookDelivery::new(
        &webhook_config(
            &format!("{}/hooks/pod", server.uri()),
            &[Channel::Sms, Channel::Email],
        ),
        clock(),
    )
    .unwrap()
}

/// One code message, as `LocalCodes` hands it to a delivery.
struct Sample {
    customer: CustomerId,
    destination: Destination,
    purpose: CodePurpose,
    code: OneTimeCode,
}

impl Sample {
    fn sms() -> Sample {
        Sample::to(Destination::sms(PHONE))
    }

    fn to(destination: Destination) -> Sample {
        Sample {
            customer: CustomerId::parse("local|ann").unwrap(),
            destination,
            purpose: CodePurpose::ConfirmOrder(OrderId::parse("o-42").unwrap()),
            code: OneTimeCode::parse("4321").unwrap(),
        }
    }

    fn message(&self) -> CodeMessage<'_> {
        let at = Timestamp::from_unix_millis(T0);
        CodeMessage {
            customer: &self.customer,
            destination: &self.destination,
            purpose: &self.purpose,
            code: &self.code,
            at,
            expires_at: at.plus(Duration::from_secs(300)),
        }
    }
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn form(request: &Request) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

fn header<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

fn twilio_error(status: u16, code: u32, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    }))
}

fn twilio_queued() -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({
        "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "account_sid": ACCOUNT,
        "to": PHONE,
        "from": FROM,
        "status": "queued",
        "error_code": null,
    }))
}

/// No secret, code or full number in an error's text.
fn assert_discreet(error: &DeliveryError) {
    let text = format!("{error} {error:?}");
    for secret in [TOKEN, KEY_SECRET, SECRET, PHONE, "4321"] {
        assert!(!text.contains(secret), "{text} leaks {secret}");
    }
}

// ---------------------------------------------------------------- twilio

#[tokio::test]
async fn twilio_gets_the_exact_form_with_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(twilio_queued())
        .mount(&server)
        .await;
    let sms = twilio(&server);
    assert!(sms.handles(Channel::Sms) && !sms.handles(Channel::Email));
    let sample = Sample::sms();
    sms.deliver(&sample.message()).await.unwrap();

    let got = requests(&server).await;
    assert_eq!(got.len(), 1);
    let basic = format!("Basic {}", STANDARD.encode(format!("{ACCOUNT}:{TOKEN}")));
    assert_eq!(header(&got[0], "authorization"), basic);
    assert_eq!(
        header(&got[0], "content-type"),
        "application/x-www-form-urlencoded"
    );
    let fields = form(&got[0]);
    assert_eq!(
        fields.keys().collect::<Vec<_>>(),
        ["Body", "From", "To"],
        "{fields:?}"
    );
    assert_eq!(fields["To"], PHONE);
    assert_eq!(fields["From"], FROM);
    assert_eq!(
        fields["Body"],
        "Your pod code is 4321. Say or type it to authorize your pizza order. It expires in 5 minutes."
    );
    assert!(!format!("{sms:?}").contains(TOKEN));
}

#[tokio::test]
async fn twilio_takes_an_api_key_and_a_messaging_service() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(twilio_queued())
        .mount(&server)
        .await;
    let mut config = twilio_config(&server.uri());
    config.credentials = TwilioCredentials::ApiKey {
        sid: KEY_SID.into(),
        secret: KEY_SECRET.into(),
    };
    config.sender = TwilioSender::MessagingService(SERVICE.into());
    let sms = TwilioDelivery::new(&config).unwrap();
    let sample = Sample::to(Destination::sms(PHONE));
    sms.deliver(&sample.message()).await.unwrap();

    let got = requests(&server).await;
    assert_eq!(got.len(), 1);
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{KEY_SID}:{KEY_SECRET}"))
    );
    assert_eq!(header(&got[0], "authorization"), basic);
    let fields = form(&got[0]);
    assert_eq!(fields["MessagingServiceSid"], SERVICE);
    assert_eq!(fields["To"], PHONE);
    assert!(!fields.contains_key("From"), "{fields:?}");
    assert!(!format!("{config:?}").contains(KEY_SECRET));
}

#[tokio::test]
async fn twilio_refusals_map_to_their_outcomes_and_are_sent_once() {
    type Outcome = fn(&DeliveryError) -> bool;
    let undeliverable: Outcome = |e| matches!(e, DeliveryError::Undeliverable(_));
    let misconfigured: Outcome = |e| matches!(e, DeliveryError::Misconfigured(_));
    let refused: Outcome = |e| matches!(e, DeliveryError::Refused(_));
    let unavailable: Outcome = |e| matches!(e, DeliveryError::Unavailable(_));
    let cases: [(ResponseTemplate, Outcome, &str); 10] = [
        (
            twilio_error(
                400,
                21211,
                "The 'To' number +15550100123 is not a valid phone number.",
            ),
            undeliverable,
            "21211",
        ),
        (
            twilio_error(
                400,
                21614,
                "'To' number +15550100123 is not a valid mobile number",
            ),
            undeliverable,
            "21614",
        ),
        (
            twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"),
            undeliverable,
            "21610",
        ),
        (
            twilio_error(400, 21408, "Permission to send an SMS has not been enabled"),
            undeliverable,
            "21408",
        ),
        (
            twilio_error(401, 20003, "Authenticate"),
            misconfigured,
            "20003",
        ),
        (
            twilio_error(404, 20404, "The requested resource was not found"),
            misconfigured,
            "20404",
        ),
        (
            twilio_error(
                400,
                21606,
                "The From phone number is not a valid, SMS-capable number",
            ),
            misconfigured,
            "21606",
        ),
        (
            twilio_error(
                400,
                21617,
                "The concatenated message body exceeds the 1600 character limit",
            ),
            refused,
            "21617",
        ),
        (
            twilio_error(500, 20500, "Internal Server Error"),
            unavailable,
            "20500",
        ),
        (
            ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"),
            unavailable,
            "502",
        ),
    ];
    let sample = Sample::sms();
    for (answer, outcome, label) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(answer)
            .mount(&server)
            .await;
        let error = twilio(&server)
            .deliver(&sample.message())
            .await
            .expect_err(label);
        assert!(outcome(&error), "{label}: {error:?}");
        assert!(error.to_string().contains(label), "{label}: {error}");
        assert_discreet(&error);
        assert_eq!(requests(&server).await.len(), 1, "{label}: sent once");
    }
}

#[tokio::test]
async fn twilio_429_and_503_are_sent_again_and_the_sms_goes_once() {
    for status in [429, 503] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(twilio_error(status, 20429, "Too Many Requests"))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(twilio_queued())
            .with_priority(2)
            .mount(&server)
            .await;
        let sample = Sample::sms();
        twilio(&server).deliver(&sample.message()).await.unwrap();
        let got = requests(&server).await;
        assert_eq!(got.len(), 2, "{status}: refused once, then queued");
        assert_eq!(form(&got[0]), form(&got[1]), "the same message");
    }
}

#[tokio::test]
async fn twilio_retries_are_bounded_and_honour_retry_after() {
    // Always 503: the first attempt and two retries, then unavailable.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(twilio_error(503, 20503, "Service Unavailable"))
        .mount(&server)
        .await;
    let sample = Sample::sms();
    let error = twilio(&server)
        .deliver(&sample.message())
        .await
        .unwrap_err();
    assert!(matches!(error, DeliveryError::Unavailable(_)), "{error:?}");
    assert_eq!(requests(&server).await.len(), 3);

    // A Retry-After beyond the deadline: given up at once, not waited for.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            twilio_error(429, 20429, "Too Many Requests").insert_header("retry-after", "30"),
        )
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let error = twilio(&server)
        .deliver(&sample.message())
        .await
        .unwrap_err();
    assert!(matches!(error, DeliveryError::Unavailable(_)), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(requests(&server).await.len(), 1);

    // A Retry-After that fits is waited for.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            twilio_error(429, 20429, "Too Many Requests").insert_header("retry-after", "1"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(twilio_queued())
        .with_priority(2)
        .mount(&server)
        .await;
    let mut config = twilio_config(&server.uri());
    config.budget.deadline = Duration::from_secs(3);
    let started = std::time::Instant::now();
    TwilioDelivery::new(&config)
        .unwrap()
        .deliver(&sample.message())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After waited for"
    );
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn twilio_is_never_sent_again_after_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(twilio_queued().set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let sample = Sample::sms();
    let started = std::time::Instant::now();
    let error = twilio(&server)
        .deliver(&sample.message())
        .await
        .unwrap_err();
    assert!(matches!(error, DeliveryError::Ambiguous(_)), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "the deadline holds: {:?}",
        started.elapsed()
    );
    assert_discreet(&error);
    // Long enough for any retry to have arrived.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(requests(&server).await.len(), 1, "exactly one request");
}

/// A loopback port nothing listens on (for now).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_refused_connection_is_tried_again_and_the_sms_goes_once() {
    // Nothing listens on the port at first; the fake starts there while
    // the delivery waits to retry.
    let port = free_port();
    let mut config = twilio_config(&format!("http://127.0.0.1:{port}"));
    config.budget = DeliveryBudget {
        deadline: Duration::from_secs(5),
        connect_timeout: Duration::from_millis(500),
        retries: 2,
        backoff: Duration::from_millis(600),
    };
    let sms = TwilioDelivery::new(&config).unwrap();
    let fake = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let server = MockServer::builder().listener(listener).start().await;
        Mock::given(method("POST"))
            .and(path(MESSAGES))
            .respond_with(twilio_queued())
            .mount(&server)
            .await;
        server
    });
    let sample = Sample::sms();
    sms.deliver(&sample.message()).await.unwrap();
    let server = fake.await.unwrap();
    assert_eq!(requests(&server).await.len(), 1);

    // Nothing ever listening: unavailable (nothing was sent).
    let error = twilio_config(&format!("http://127.0.0.1:{}", free_port()));
    let error = TwilioDelivery::new(&error)
        .unwrap()
        .deliver(&sample.message())
        .await
        .unwrap_err();
    assert!(matches!(error, DeliveryError::Unavailable(_)), "{error:?}");
}

#[test]
fn twilio_settings_are_checked_without_echoing_secrets() {
    let good = twilio_config("https://api.twilio.com");
    assert!(TwilioDelivery::new(&good).is_ok());
    let mut cases: Vec<(TwilioConfig, TwilioConfigError)> = Vec::new();
    let mut c = good.clone();
    c.account_sid = "SK0123456789abcdef0123456789abcdef".into();
    cases.push((c, TwilioConfigError::AccountSid));
    let mut c = good.clone();
    c.credentials = TwilioCredentials::ApiKey {
        sid: "AC0123456789abcdef0123456789abcdef".into(),
        secret: KEY_SECRET.into(),
    };
    cases.push((c, TwilioConfigError::ApiKeySid));
    let mut c = good.clone();
    c.credentials = TwilioCredentials::AuthToken(" ".into());
    cases.push((c, TwilioConfigError::Secret));
    let mut c = good.clone();
    c.sender = TwilioSender::MessagingService("MG123".into());
    cases.push((c, TwilioConfigError::MessagingService));
    let mut c = good.clone();
    c.sender = TwilioSender::From("+1 555".into());
    cases.push((c, TwilioConfigError::From));
    for (config, expected) in cases {
        assert_eq!(TwilioDelivery::new(&config).unwrap_err(), expected);
    }
    for base in [
        "http://api.twilio.com",
        "ftp://127.0.0.1",
        "not a url",
        "https://user:pw@api.twilio.com",
    ] {
        let mut c = good.clone();
        c.base_url = base.into();
        let error = TwilioDelivery::new(&c).unwrap_err();
        assert!(matches!(error, TwilioConfigError::BaseUrl(_)), "{base}");
        assert!(!error.to_string().contains("pw"), "{error}");
    }
    let mut alphanumeric = good.clone();
    alphanumeric.sender = TwilioSender::From("PizzaPod".into());
    assert!(TwilioDelivery::new(&alphanumeric).is_ok());
    assert!(!format!("{good:?}").contains(TOKEN));
}

// ---------------------------------------------------------------- webhook

/// The receiver's side: recomputes the HMAC over the raw body with the
/// shared secret (aws-lc-rs directly, not pod's helper) and compares in
/// constant time.
fn receiver_verifies(request: &Request, secret: &[u8]) -> bool {
    let Some(timestamp) = request
        .headers
        .get("pod-timestamp")
        .and_then(|t| t.to_str().ok())
    else {
        return false;
    };
    let Some(hex) = request
        .headers
        .get("pod-signature")
        .and_then(|s| s.to_str().ok())
        .and_then(|s| s.strip_prefix("v1="))
    else {
        return false;
    };
    let Some(tag) = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(&request.body);
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hmac::verify(&key, &signed, &tag).is_ok()
}

#[tokio::test]
async fn the_webhook_gets_signed_json_that_a_receiver_verifies() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/pod"))
        .respond_with(|request: &Request| {
            if receiver_verifies(request, SECRET.as_bytes()) {
                ResponseTemplate::new(204)
            } else {
                ResponseTemplate::new(401)
            }
        })
        .mount(&server)
        .await;
    let hook = webhook(&server);
    let sample = Sample::sms();
    hook.deliver(&sample.message()).await.unwrap();

    let got = requests(&server).await;
    assert_eq!(got.len(), 1);
    let request = &got[0];
    assert_eq!(header(request, "content-type"), "application/json");
    assert_eq!(header(request, "pod-timestamp"), (T0 / 1000).to_string());
    let id = header(request, "pod-delivery-id");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "id": id,
            "channel": "sms",
            "to": PHONE,
            "code": "4321",
            "purpose": "order",
            "order_id": "o-42",
            "message": "Your pod code is 4321. Say or type it to authorize your pizza order. It expires in 5 minutes.",
            "issued_at": "2025-01-02T03:04:05.678Z",
            "expires_at": "2025-01-02T03:09:05.678Z",
        })
    );
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    assert!(receiver_verifies(request, SECRET.as_bytes()));
    assert!(!receiver_verifies(request, b"another-secret-0123456789"));
    // pod's own helper agrees with the receiver's computation.
    assert_eq!(
        header(request, "pod-signature"),
        webhook_signature(SECRET.as_bytes(), T0 / 1000, &request.body)
    );

    // An email code, for sign-in.
    let mail = Sample {
        purpose: CodePurpose::SignIn,
        ..Sample::to(Destination::email("ann@example.com"))
    };
    hook.deliver(&mail.message()).await.unwrap();
    let got = requests(&server).await;
    let body: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(body["channel"], "email");
    assert_eq!(body["to"], "ann@example.com");
    assert_eq!(body["purpose"], "sign_in");
    assert_eq!(body["order_id"], Value::Null);
    assert_ne!(
        body["id"],
        got[0].headers["pod-delivery-id"].to_str().unwrap()
    );
    assert!(!format!("{hook:?}").contains(SECRET));
}

#[tokio::test]
async fn a_receiver_with_another_secret_is_a_configuration_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(|request: &Request| {
            if receiver_verifies(request, b"the-receivers-own-secret") {
                ResponseTemplate::new(200)
            } else {
                ResponseTemplate::new(401)
            }
        })
        .mount(&server)
        .await;
    let sample = Sample::sms();
    let error = webhook(&server)
        .deliver(&sample.message())
        .await
        .unwrap_err();
    assert!(
        matches!(error, DeliveryError::Misconfigured(_)),
        "{error:?}"
    );
    assert_discreet(&error);
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn webhook_refusals_map_to_their_outcomes() {
    type Outcome = fn(&DeliveryError) -> bool;
    let cases: [(u16, Outcome); 6] = [
        (422, |e| matches!(e, DeliveryError::Undeliverable(_))),
        (401, |e| matches!(e, DeliveryError::Misconfigured(_))),
        (403, |e| matches!(e, DeliveryError::Misconfigured(_))),
        (404, |e| matches!(e, DeliveryError::Misconfigured(_))),
        (400, |e| matches!(e, DeliveryError::Refused(_))),
        (500, |e| matches!(e, DeliveryError::Unavailable(_))),
    ];
    let sample = Sample::sms();
    for (status, outcome) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status))
            .mount(&server)
            .await;
        let error = webhook(&server)
            .deliver(&sample.message())
            .await
            .unwrap_err();
        assert!(outcome(&error), "{status}: {error:?}");
        assert_discreet(&error);
        assert_eq!(requests(&server).await.len(), 1, "{status}: sent once");
    }
}

#[tokio::test]
async fn webhook_retries_reuse_the_delivery_id_and_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(3)
        .mount(&server)
        .await;
    let sample = Sample::sms();
    webhook(&server).deliver(&sample.message()).await.unwrap();
    let got = requests(&server).await;
    assert_eq!(got.len(), 3, "503, 429, then taken");
    for request in &got {
        assert_eq!(
            header(request, "pod-delivery-id"),
            header(&got[0], "pod-delivery-id")
        );
        assert_eq!(request.body, got[0].body);
        assert!(receiver_verifies(request, SECRET.as_bytes()));
    }
}

#[tokio::test]
async fn the_webhook_is_never_sent_again_after_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let sample = Sample::sms();
    let error = webhook(&server)
        .deliver(&sample.message())
        .await
        .unwrap_err();
    assert!(matches!(error, DeliveryError::Ambiguous(_)), "{error:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(requests(&server).await.len(), 1, "exactly one request");
}

#[test]
fn webhook_settings_are_checked_without_echoing_secrets() {
    let ok = webhook_config("https://hooks.example.com/pod", &[Channel::Sms]);
    assert!(WebhookDelivery::new(&ok, clock()).is_ok());
    let short = WebhookConfig {
        secret: "short".into(),
        ..ok.clone()
    };
    assert_eq!(
        WebhookDelivery::new(&short, clock()).unwrap_err(),
        WebhookConfigError::Secret
    );
    let none = WebhookConfig {
        channels: vec![],
        ..ok.clone()
    };
    assert_eq!(
        WebhookDelivery::new(&none, clock()).unwrap_err(),
        WebhookConfigError::NoChannel
    );
    for url in ["http://hooks.example.com/pod", "hooks.example.com"] {
        let bad = WebhookConfig {
            url: url.into(),
            ..ok.clone()
        };
        let error = WebhookDelivery::new(&bad, clock()).unwrap_err();
        assert!(matches!(error, WebhookConfigError::Url(_)), "{url}");
        assert!(!error.to_string().contains("hooks.example.com"), "{error}");
    }
    assert!(!format!("{ok:?}").contains(SECRET));
}

// ---------------------------------------------------------------- through LocalCodes

fn local_codes(deliveries: Vec<Arc<dyn CodeDelivery>>) -> LocalCodes {
    LocalCodes::new(
        Arc::new(OsCodeGenerator),
        clock(),
        Duration::from_secs(300),
        deliveries,
        LocalCodesConfig {
            code_digits: 4,
            hash_key: CodeHashKey::new(&[9u8; 32]),
        },
    )
    .unwrap()
}

#[tokio::test]
async fn each_channel_goes_to_its_configured_delivery_and_not_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let twilio_fake = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(twilio_queued())
        .mount(&twilio_fake)
        .await;
    let hook_fake = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook_fake)
        .await;
    let hook = WebhookDelivery::new(
        &webhook_config(&hook_fake.uri(), &[Channel::Email]),
        clock(),
    )
    .unwrap();
    let outbox = Outbox::in_data_dir(dir.path())
        .without(Channel::Sms)
        .without(Channel::Email);
    let codes = local_codes(vec![
        Arc::new(twilio(&twilio_fake)),
        Arc::new(hook),
        Arc::new(outbox),
    ]);
    let ann = CustomerId::parse("local|ann").unwrap();
    let purpose = CodePurpose::ConfirmOrder(OrderId::parse("o-7").unwrap());

    let phone = Destination::sms(PHONE);
    let issued = codes.issue(&ann, &purpose);
    codes
        .deliver(&ann, &phone, &purpose, &issued)
        .await
        .unwrap();
    let sms = requests(&twilio_fake).await;
    assert_eq!(sms.len(), 1);
    let body = form(&sms[0])["Body"].clone();
    let code = OneTimeCode::parse(&body[17..21]).unwrap();
    assert_eq!(
        codes
            .check(&ann, &phone, &purpose, issued.digest.clone(), &code)
            .await
            .unwrap(),
        CodeCheck::Valid
    );

    let mail = Destination::email("ann@example.com");
    let issued = codes.issue(&ann, &CodePurpose::SignIn);
    codes
        .deliver(&ann, &mail, &CodePurpose::SignIn, &issued)
        .await
        .unwrap();
    let hooks = requests(&hook_fake).await;
    assert_eq!(hooks.len(), 1);
    assert_eq!(requests(&twilio_fake).await.len(), 1, "no SMS for email");
    let payload: WebhookPayload = serde_json::from_slice(&hooks[0].body).unwrap();
    assert_eq!(payload.channel, "email");
    let code = OneTimeCode::parse(&payload.code).unwrap();
    assert_eq!(
        codes
            .check(&ann, &mail, &CodePurpose::SignIn, issued.digest, &code)
            .await
            .unwrap(),
        CodeCheck::Valid
    );
    assert!(
        Outbox::read(&dir.path().join(Outbox::FILE_NAME), None, None)
            .unwrap()
            .is_empty(),
        "nothing in the outbox"
    );
}

#[tokio::test]
async fn delivery_outcomes_reach_the_port_as_code_errors() {
    let ann = CustomerId::parse("local|ann").unwrap();
    let phone = Destination::sms(PHONE);
    type Expected = fn(&CodeError) -> bool;
    let cases: [(ResponseTemplate, Expected); 3] = [
        (twilio_error(400, 21211, "invalid"), |e| {
            matches!(e, CodeError::DeliveryFailed(_))
        }),
        (twilio_error(401, 20003, "Authenticate"), |e| {
            matches!(e, CodeError::Unavailable(_))
        }),
        (twilio_error(503, 20503, "Service Unavailable"), |e| {
            matches!(e, CodeError::Unavailable(_))
        }),
    ];
    for (answer, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(answer)
            .mount(&server)
            .await;
        let codes = local_codes(vec![Arc::new(twilio(&server))]);
        let issued = codes.issue(&ann, &CodePurpose::SignIn);
        let error = codes
            .deliver(&ann, &phone, &CodePurpose::SignIn, &issued)
            .await
            .unwrap_err();
        assert!(expected(&error), "{error:?}");
        assert!(!error.to_string().contains(PHONE), "{error}");
    }
}
