//! Handler tests of the whole router, without a socket (`oneshot`): the
//! real embedded adapters over an in-memory SQLite store, a clock the test
//! moves, and `mockall` mocks of a port where a test needs it to fail.
//!
//! Request verification has its own exhaustive tests in
//! `pod-alexa/tests/alexa/verify.rs`; here `/alexa` runs with
//! [`VerifyMode::Off`] (timestamp and skill id still checked), except one
//! test that shows the router really verifies signed requests with
//! development keys.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use pod_adapters_http::{HttpConfig, HttpState, LiveEvents, Metrics};
use pod_adapters_local::{
    CodeHashKey, LocalAccessTokens, LocalCodes, LocalCodesConfig, LocalDirectory, LocalTokenConfig,
    LocalTokenKey, LocalUsers, Outbox, UuidOrderIds,
};
use pod_adapters_sql::SqlStore;
use pod_alexa::verify::{
    DevSigningKeys, RequestVerifier, VerifierConfig, VerifyMode, format_iso8601,
};
use pod_domain::{ConfirmationPolicy, ContactPoints, CustomerId, Timestamp};
use pod_ports::{
    AccessTokens, AccountStore, AnsweredRequests, Clock, CodeError, CustomerDirectory,
    MockAccessTokens, MockAccountStore, MockCustomerDirectory, MockOneTimeCodes, NewCode,
    OneTimeCodes, OrderingService, Ports, StoreError, TokenError,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;

mod app;
mod can_fulfill;
mod cancel;
mod faults;
mod oauth;
mod progressive;
mod replay;
mod skill_events;
mod support;

use pod_ports::testing::ManualClock;
use support::{CODE, WRONG, fixed_code, test_clock};

const WELCOME: &str = "Welcome to Pizza on Demand. How can I help you?";
const RECEIVED_EMAIL: &str = "I have received your pizza request. Authorize the transaction using the code received in your email.";
const RECEIVED_PHONE: &str = "I have received your pizza request. Authorize the transaction using the code received in your phone.";
const SKILL: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";

// ------------------------------------------------------------- harness

/// Puts a wrapper around the code port.
type WrapCodes = Box<dyn FnOnce(Arc<dyn OneTimeCodes>) -> Arc<dyn OneTimeCodes>>;

/// Ports to put in place of the real ones.
#[derive(Default)]
struct Overrides {
    tokens: Option<Arc<dyn AccessTokens>>,
    directory: Option<Arc<dyn CustomerDirectory>>,
    codes: Option<Arc<dyn OneTimeCodes>>,
    store: Option<Arc<dyn AccountStore>>,
    verify: Option<VerifyMode>,
    skill_ids: Vec<String>,
    /// Wraps the code port (the real one, or `codes`).
    wrap_codes: Option<WrapCodes>,
    /// Where answered requests are kept (default: the in-memory SQLite store).
    answers: Option<Arc<dyn AnsweredRequests>>,
    /// How long a copy of a request in flight waits for its answer.
    replay_wait: Option<Duration>,
    progressive: Option<pod_adapters_http::ProgressiveResponses>,
}

/// A router over the embedded adapters with two users: `demo` (email
/// only) and `sam` (with a phone, so codes go by SMS).
struct Env {
    router: Router,
    clock: Arc<ManualClock>,
    /// The in-memory store behind the router (also its Alexa links).
    sql: Arc<SqlStore>,
    demo: String,
    sam: String,
    _dir: tempfile::TempDir,
}

impl Env {
    async fn new() -> Env {
        Env::with(Overrides::default()).await
    }

    async fn with(overrides: Overrides) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let clock = test_clock();
        let store = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
        let users = LocalUsers::new(store.clone(), clock.clone());
        let demo = users.add("demo", "demo@example.com", None).await.unwrap();
        let sam = users
            .add("sam", "sam@example.com", Some("+15550100"))
            .await
            .unwrap();
        let key = LocalTokenKey::from_bytes(&[7; 32]).unwrap();
        let tokens = Arc::new(LocalAccessTokens::new(
            &key,
            LocalTokenConfig::default(),
            clock.clone(),
        ));
        let token = |id: &CustomerId| tokens.issue(id, Duration::from_secs(3600), clock.now());
        let (demo, sam) = (token(&demo.id), token(&sam.id));
        let policy = ConfirmationPolicy::default();
        let codes = LocalCodes::new(
            fixed_code(),
            clock.clone(),
            policy.code_lifetime(),
            vec![Arc::new(Outbox::in_data_dir(dir.path()))],
            LocalCodesConfig::from_policy(&policy, CodeHashKey::new(b"test code hash key")),
        )
        .unwrap();
        let order_store: Arc<dyn AccountStore> = match overrides.store {
            Some(store) => store,
            None => store.clone(),
        };
        let mut codes: Arc<dyn OneTimeCodes> = overrides.codes.unwrap_or_else(|| Arc::new(codes));
        if let Some(wrap) = overrides.wrap_codes {
            codes = wrap(codes);
        }
        let ports = Ports {
            tokens: match overrides.tokens {
                Some(tokens) => tokens,
                None => tokens,
            },
            directory: overrides
                .directory
                .unwrap_or_else(|| Arc::new(LocalDirectory::new(store.clone()))),
            codes,
            store: order_store.clone(),
            events: Arc::new(LiveEvents::default()),
            clock: clock.clone(),
            ids: Arc::new(UuidOrderIds),
        };
        let mut config = VerifierConfig::new(overrides.verify.unwrap_or(VerifyMode::Off));
        config.skill_ids = overrides.skill_ids;
        let mut http_config = HttpConfig::default();
        if let Some(wait) = overrides.replay_wait {
            http_config.replay_wait = wait;
        }
        let state = HttpState::new(
            OrderingService::new(ports, policy),
            RequestVerifier::new(config).unwrap(),
            clock.clone(),
            order_store,
            Metrics::new(),
            http_config,
        )
        .with_alexa_links(store.clone())
        .with_answered_requests(overrides.answers.unwrap_or_else(|| store.clone()));
        let state = match overrides.progressive {
            Some(progressive) => state.with_progressive_responses(progressive),
            None => state,
        };
        Env {
            router: pod_adapters_http::router(state),
            clock,
            sql: store,
            demo,
            sam,
            _dir: dir,
        }
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Vec<u8>) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, bytes.to_vec())
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let (status, body) = self.send(request).await;
        (status, String::from_utf8(body).unwrap())
    }

    /// An `/api` call: the status and the JSON body.
    async fn api(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let (status, body) = self.send(request).await;
        (status, json_of(&body))
    }

    /// `POST /api/orders` with `order` as the holder of `token`.
    async fn place(&self, token: Option<&str>, order: Value) -> (StatusCode, Value) {
        self.api(Method::POST, "/api/orders", token, Some(order))
            .await
    }

    /// `POST /api/orders/confirm` with `code` as the holder of `token`.
    async fn confirm(&self, token: Option<&str>, code: &str) -> (StatusCode, Value) {
        let body = json!({ "code": code });
        self.api(Method::POST, "/api/orders/confirm", token, Some(body))
            .await
    }

    /// `GET /api/orders` as the holder of `token`: the listing.
    async fn listed(&self, token: Option<&str>) -> Value {
        let (status, listed) = self.api(Method::GET, "/api/orders", token, None).await;
        assert_eq!(status, StatusCode::OK, "{listed}");
        listed
    }

    /// Posts an envelope to `/alexa` (unsigned: verification is off).
    async fn alexa(&self, envelope: &Value) -> (StatusCode, Value) {
        self.alexa_bytes(envelope.to_string().into_bytes(), &[])
            .await
    }

    async fn alexa_bytes(&self, body: Vec<u8>, headers: &[(&str, String)]) -> (StatusCode, Value) {
        let mut request = Request::post("/alexa").header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let (status, body) = self.send(request.body(Body::from(body)).unwrap()).await;
        (status, json_of(&body))
    }

    /// Says something to the skill as the holder of `token` and checks the
    /// invariants of every answer; the speech and whether the session stays open.
    async fn say(&self, token: Option<&str>, request: Value) -> (String, bool) {
        let (status, answer) = self.alexa(&envelope(self.now(), token, request)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        check_response(&answer);
        let speech = answer["response"]["outputSpeech"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let open = answer["response"]["shouldEndSession"] == false;
        (speech, open)
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// What every Alexa answer must be: a response envelope whose speech, when
/// there is any, says whether the session ends and stays under 8,000 chars.
fn check_response(answer: &Value) {
    assert_eq!(answer["version"], "1.0", "{answer}");
    let response = answer["response"].as_object().expect("a response object");
    if !response.is_empty() {
        assert!(
            response
                .get("shouldEndSession")
                .is_some_and(Value::is_boolean),
            "shouldEndSession missing: {answer}"
        );
    }
    for text in [
        &answer["response"]["outputSpeech"]["text"],
        &answer["response"]["reprompt"]["outputSpeech"]["text"],
    ] {
        if let Some(text) = text.as_str() {
            assert!(text.chars().count() < 8000, "speech too long");
        }
    }
}

/// An Alexa request envelope at `at` carrying `token`, with a request id of
/// its own (a request id seen before would be answered as a replay).
fn envelope(at: Timestamp, token: Option<&str>, mut request: Value) -> Value {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    request["timestamp"] = json!(format_iso8601(at));
    request["requestId"] = json!(format!("amzn1.echo-api.request.test-{id}"));
    request["locale"] = json!("en-US");
    let mut user = json!({"userId": "amzn1.ask.account.test"});
    if let Some(token) = token {
        user["accessToken"] = json!(token);
    }
    json!({
        "version": "1.0",
        "session": {"new": false, "sessionId": "amzn1.echo-api.session.test",
                    "application": {"applicationId": SKILL}, "user": user},
        "context": {"System": {"application": {"applicationId": SKILL}, "user": user}},
        "request": request,
    })
}

fn launch() -> Value {
    json!({"type": "LaunchRequest"})
}

fn intent(name: &str, slots: &[(&str, &str)]) -> Value {
    let slots: serde_json::Map<String, Value> = slots
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!({"name": k, "value": v})))
        .collect();
    json!({"type": "IntentRequest", "intent": {"name": name, "slots": slots}})
}

fn order() -> Value {
    intent(
        "GetMeSomePizzaIntent",
        &[("Size", "large"), ("Toppings", "pepperoni")],
    )
}

fn authorize(code: &str) -> Value {
    intent("AuthorizePizzaOrderIntent", &[("Code", code)])
}

fn failing_tokens() -> Arc<dyn AccessTokens> {
    let mut tokens = MockAccessTokens::new();
    tokens
        .expect_customer_for_token()
        .returning(|_| Err(TokenError::Unavailable("jwks down".into())));
    Arc::new(tokens)
}

// ------------------------------------------------------------- health and metrics

#[tokio::test]
async fn health_and_readiness() {
    let env = Env::new().await;
    assert_eq!(env.get("/healthz").await, (StatusCode::OK, "ok".into()));
    assert_eq!(env.get("/readyz").await, (StatusCode::OK, "ready".into()));

    let mut store = MockAccountStore::new();
    store
        .expect_ping()
        .returning(|| Err(StoreError::Unavailable("gone".into())));
    let env = Env::with(Overrides {
        store: Some(Arc::new(store)),
        ..Overrides::default()
    })
    .await;
    let (status, body) = env.get("/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!body.contains("gone"), "the cause stays in the log: {body}");
    assert_eq!(env.get("/healthz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_the_traffic() {
    let env = Env::new().await;
    let demo = env.demo.clone();
    env.say(Some(&demo), order()).await;
    env.say(Some(&demo), authorize(WRONG)).await;
    env.say(Some(&demo), authorize(CODE)).await;
    let stale = envelope(env.now().minus(Duration::from_secs(600)), None, launch());
    assert_eq!(env.alexa(&stale).await.0, StatusCode::BAD_REQUEST);
    env.api(Method::GET, "/api/orders", None, None).await;

    let (status, metrics) = env.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    for expected in [
        "pod_http_requests_total{route=\"/alexa\",status=\"200\"} 3",
        "pod_http_requests_total{route=\"/alexa\",status=\"400\"} 1",
        "pod_http_requests_total{route=\"/api/orders\",status=\"401\"} 1",
        "pod_http_request_duration_seconds_bucket{",
        "pod_codes_sent_total 1",
        "pod_confirmations_total 1",
        "pod_rejections_total{reason=\"wrong_code\"} 1",
        "pod_alexa_verification_failures_total{reason=\"timestamp\"} 1",
    ] {
        assert!(metrics.contains(expected), "{expected} missing:\n{metrics}");
    }
}

#[tokio::test]
async fn unknown_routes_are_json_404s() {
    let env = Env::new().await;
    let (status, body) = env.api(Method::GET, "/nowhere", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    let (status, _) = env.api(Method::GET, "/alexa", None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

// ------------------------------------------------------------- /api

#[tokio::test]
async fn every_api_route_needs_a_valid_bearer_token() {
    let env = Env::new().await;
    let routes = [
        (Method::GET, "/api/orders", None),
        (
            Method::POST,
            "/api/orders",
            Some(json!({"size": "large", "toppings": ["ham"]})),
        ),
        (
            Method::POST,
            "/api/orders/confirm",
            Some(json!({"code": CODE})),
        ),
        (Method::DELETE, "/api/orders/confirmed", None),
        (Method::POST, "/api/authorize/4321", None),
    ];
    for (method, path, body) in routes {
        for token in [None, Some("garbage"), Some("a.b.c")] {
            let (status, answer) = env.api(method.clone(), path, token, body.clone()).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} {token:?}"
            );
            assert_eq!(answer["error"], "unauthorized");
        }
        // Another scheme is not a bearer token.
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("authorization", format!("Basic {}", env.demo))
            .body(Body::empty())
            .unwrap();
        assert_eq!(env.send(request).await.0, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    // RFC 9110, section 11.1: the authentication scheme is case-insensitive.
    let env = Env::new().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let request = Request::get("/api/orders")
            .header("authorization", format!("{scheme} {}", env.demo))
            .body(Body::empty())
            .unwrap();
        let (status, body) = env.send(request).await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {}", json_of(&body));
    }
}

#[tokio::test]
async fn the_api_places_confirms_lists_and_clears() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    let (status, placed) = env
        .place(
            demo,
            json!({"size": "large", "toppings": ["pepperoni", "mushrooms"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    assert_eq!(placed["channel"], "email");
    assert_eq!(placed["order"]["state"], "awaiting_code");
    assert_eq!(
        placed["order"]["toppings"],
        json!(["pepperoni", "mushrooms"])
    );
    assert_eq!(placed["superseded"], Value::Null);
    let id = placed["order"]["id"].clone();

    let listed = env.listed(demo).await;
    assert_eq!(listed["pending"]["id"], id);
    assert_eq!(listed["confirmed"], json!([]));
    // Another customer sees none of it.
    let theirs = env.listed(Some(&env.sam)).await;
    assert_eq!(theirs, json!({"pending": null, "confirmed": []}));

    let (status, wrong) = env.confirm(demo, WRONG).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong["error"], "wrong_code");
    assert_eq!(wrong["attempts_left"], 2);

    let (status, confirmed) = env.confirm(demo, CODE).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["order"]["state"], "confirmed");
    assert_eq!(confirmed["order"]["id"], id);

    let (status, none) = env.confirm(demo, CODE).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(none["error"], "no_pending_order");

    let listed = env.listed(demo).await;
    assert_eq!(listed["pending"], Value::Null);
    assert_eq!(listed["confirmed"][0]["id"], id);
    let (status, cleared) = env
        .api(Method::DELETE, "/api/orders/confirmed", demo, None)
        .await;
    assert_eq!((status, cleared), (StatusCode::OK, json!({"cleared": 1})));
    let listed = env.listed(demo).await;
    assert_eq!(listed, json!({"pending": null, "confirmed": []}));
}

#[tokio::test]
async fn the_original_authorize_route_is_an_alias() {
    let env = Env::new().await;
    let sam = Some(env.sam.as_str());
    let (status, placed) = env
        .place(sam, json!({"size": "small", "toppings": "ham and bacon"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    assert_eq!(placed["channel"], "sms");
    let (status, bad) = env.api(Method::POST, "/api/authorize/12", sam, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["error"], "invalid_code_format");
    let (status, done) = env
        .api(Method::POST, &format!("/api/authorize/{CODE}"), sam, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["order"]["state"], "confirmed");
}

/// Found by fuzzing (`fuzz/regressions/api/crash-b03191f5…`): a code in the
/// alias's path that percent-decodes to invalid UTF-8 was answered with
/// axum's plain-text rejection instead of pod's JSON error.
#[tokio::test]
async fn fuzz_crash_b03191f5_an_alias_code_of_invalid_utf8_is_a_json_error() {
    let env = Env::new().await;
    let sam = Some(env.sam.as_str());
    for path in ["/api/authorize/%FF%FE1234", "/api/authorize/12%C0"] {
        let (status, bad) = env.api(Method::POST, path, sam, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {bad}");
        assert_eq!(bad["error"], "invalid_code_format", "{path}: {bad}");
    }
}

#[tokio::test]
async fn api_request_errors_have_stable_codes() {
    let env = Env::new().await;
    let demo = env.demo.clone();
    let raw = |content_type: Option<&str>, body: Vec<u8>| {
        let mut request =
            Request::post("/api/orders").header("authorization", format!("Bearer {demo}"));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.body(Body::from(body)).unwrap()
    };
    let huge = format!(
        "{{\"size\": \"large\", \"toppings\": \"{}\"}}",
        "x".repeat(100 * 1024)
    );
    let cases = [
        (
            raw(Some("application/json"), b"{not json".to_vec()),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            raw(Some("application/json"), b"{\"size\": 7}".to_vec()),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            raw(None, b"{\"size\": \"large\"}".to_vec()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            raw(Some("text/plain"), b"{\"size\": \"large\"}".to_vec()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            raw(Some("application/json"), huge.into_bytes()),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            raw(
                Some("application/json"),
                br#"{"size": "large", "toppings": ["anchovies"]}"#.to_vec(),
            ),
            StatusCode::BAD_REQUEST,
            "unknown_topping",
        ),
        (
            raw(
                Some("application/json"),
                br#"{"size": "gigantic"}"#.to_vec(),
            ),
            StatusCode::BAD_REQUEST,
            "unknown_size",
        ),
    ];
    for (request, status, error) in cases {
        let (got, body) = env.send(request).await;
        let body = json_of(&body);
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{body}"
        );
        assert!(body["message"].is_string(), "{body}");
    }
    // A refused body's message is fixed: it never quotes what was sent.
    let (status, body) = env
        .api(
            Method::POST,
            "/api/orders/confirm",
            Some(&env.demo),
            Some(json!({"code": 98765432})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!body.to_string().contains("98765432"), "{body}");
    assert!(!body.to_string().contains("invalid type"), "{body}");
    let (status, body) = env
        .api(
            Method::POST,
            "/api/orders/confirm",
            Some(&env.demo),
            Some(json!({"kode": CODE})),
        )
        .await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_json"))
    );
    // Nothing was placed by any of them.
    let listed = env.listed(Some(&env.demo)).await;
    assert_eq!(listed, json!({"pending": null, "confirmed": []}));
}

#[tokio::test]
async fn too_many_wrong_codes_cancel_the_order_with_a_conflict() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    env.place(demo, json!({"size": "large"})).await;
    assert_eq!(env.confirm(demo, WRONG).await.1["attempts_left"], 2);
    assert_eq!(env.confirm(demo, WRONG).await.1["attempts_left"], 1);
    let (status, last) = env.confirm(demo, WRONG).await;
    assert_eq!(
        (status, last["error"].clone()),
        (StatusCode::CONFLICT, json!("too_many_attempts"))
    );
    let (status, late) = env.confirm(demo, CODE).await;
    assert_eq!(
        (status, late["error"].clone()),
        (StatusCode::NOT_FOUND, json!("no_pending_order"))
    );
    // Counted as the skill counts them, so one dashboard sees every surface.
    let (_, metrics) = env.get("/metrics").await;
    for line in [
        "pod_rejections_total{reason=\"wrong_code\"} 2",
        "pod_rejections_total{reason=\"too_many_attempts\"} 1",
        "pod_rejections_total{reason=\"no_pending_order\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
}

#[tokio::test]
async fn an_expired_code_cancels_the_order_with_a_conflict() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    env.place(demo, json!({})).await;
    env.clock
        .advance(ConfirmationPolicy::default().code_lifetime() + Duration::from_secs(1));
    let (status, body) = env.confirm(demo, CODE).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::CONFLICT, json!("code_expired"))
    );
}

#[tokio::test]
async fn the_sixth_code_in_an_hour_is_refused_with_429() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    for _ in 0..5 {
        let (status, _) = env.place(demo, json!({})).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, body) = env.place(demo, json!({})).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::TOO_MANY_REQUESTS, json!("rate_limited"))
    );
    // An hour later the window has moved on.
    env.clock
        .advance(ConfirmationPolicy::SEND_WINDOW + Duration::from_secs(1));
    let (status, _) = env.place(demo, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn an_account_without_contact_points_is_a_conflict() {
    let mut directory = MockCustomerDirectory::new();
    directory
        .expect_contact_points()
        .returning(|_| Ok(ContactPoints::default()));
    let env = Env::with(Overrides {
        directory: Some(Arc::new(directory)),
        ..Overrides::default()
    })
    .await;
    let (status, body) = env.place(Some(&env.demo), json!({})).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::CONFLICT, json!("no_contact_point"))
    );
    let (speech, open) = env.say(Some(&env.demo), order()).await;
    assert!(speech.contains("no phone number or email"), "{speech}");
    assert!(!open);
}

#[tokio::test]
async fn a_failing_port_is_a_503_without_its_cause() {
    // The identity provider is down.
    let env = Env::with(Overrides {
        tokens: Some(failing_tokens()),
        ..Overrides::default()
    })
    .await;
    let (status, body) = env
        .api(Method::GET, "/api/orders", Some("any.token.here"), None)
        .await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("unavailable"))
    );
    assert!(!body.to_string().contains("jwks"), "{body}");

    // The store is down.
    let mut store = MockAccountStore::new();
    store
        .expect_orders_of()
        .returning(|_| Err(StoreError::Unavailable("disk on fire".into())));
    store
        .expect_load_account()
        .returning(|_| Err(StoreError::Unavailable("disk on fire".into())));
    let env = Env::with(Overrides {
        store: Some(Arc::new(store)),
        ..Overrides::default()
    })
    .await;
    for (method, path, body) in [
        (Method::GET, "/api/orders", None),
        (Method::POST, "/api/orders", Some(json!({}))),
    ] {
        let (status, answer) = env.api(method, path, Some(&env.demo), body).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {answer}");
        assert!(!answer.to_string().contains("disk"), "{answer}");
    }
}

#[tokio::test]
async fn a_code_that_cannot_be_sent_leaves_no_order_waiting() {
    let mut codes = MockOneTimeCodes::new();
    codes.expect_issue().returning(|_, _| NewCode {
        digest: None,
        code: None,
    });
    codes
        .expect_deliver()
        .returning(|_, _, _, _| Err(CodeError::DeliveryFailed("smtp down".into())));
    let env = Env::with(Overrides {
        codes: Some(Arc::new(codes)),
        ..Overrides::default()
    })
    .await;
    let demo = Some(env.demo.as_str());
    let (status, body) = env.place(demo, json!({})).await;
    assert_eq!(
        (status, body["error"].clone()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!("code_delivery_failed")
        )
    );
    let (speech, open) = env.say(demo, order()).await;
    assert!(speech.contains("couldn't send"), "{speech}");
    assert!(!open);
    let listed = env.listed(demo).await;
    assert_eq!(listed, json!({"pending": null, "confirmed": []}));
}

// ------------------------------------------------------------- /alexa

#[tokio::test]
async fn the_skill_speaks_the_original_words() {
    let env = Env::new().await;
    let (speech, open) = env.say(None, launch()).await;
    assert_eq!((speech.as_str(), open), (WELCOME, true));

    let demo = Some(env.demo.as_str());
    let (speech, open) = env.say(demo, order()).await;
    assert_eq!((speech.as_str(), open), (RECEIVED_EMAIL, true));
    let (speech, open) = env.say(Some(&env.sam), order()).await;
    assert_eq!((speech.as_str(), open), (RECEIVED_PHONE, true));

    let (speech, open) = env.say(demo, authorize(WRONG)).await;
    assert!(
        speech.contains("not right") && speech.contains("2 attempts left"),
        "{speech}"
    );
    assert!(open);
    let (speech, open) = env.say(demo, authorize("one two")).await;
    assert!(speech.contains("didn't catch"), "{speech}");
    assert!(open);
    let (speech, open) = env
        .say(demo, intent("AuthorizePizzaOrderIntent", &[]))
        .await;
    assert!(speech.contains("didn't catch"), "{speech}");
    assert!(open);
    let (speech, open) = env.say(demo, authorize(CODE)).await;
    assert!(speech.starts_with("Order confirmed."), "{speech}");
    assert!(!open);

    let listed = env.listed(demo).await;
    assert_eq!(listed["confirmed"][0]["state"], "confirmed");
}

#[tokio::test]
async fn the_skill_speaks_the_language_of_the_requests_locale() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    let in_locale = |locale: Option<&str>, request: Value| {
        let mut body = envelope(env.now(), demo, request);
        match locale {
            Some(locale) => body["request"]["locale"] = json!(locale),
            None => {
                body["request"].as_object_mut().unwrap().remove("locale");
            }
        }
        body
    };
    let speech = |answer: &Value| {
        check_response(answer);
        answer["response"]["outputSpeech"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    // German, from the welcome to the confirmation, with German slot values.
    let (_, answer) = env.alexa(&in_locale(Some("de-DE"), launch())).await;
    assert_eq!(
        speech(&answer),
        "Willkommen bei Pizza on Demand. Wie kann ich helfen?"
    );
    let german_order = intent(
        "GetMeSomePizzaIntent",
        &[("Size", "große"), ("Toppings", "Salami und Pilze")],
    );
    let (_, answer) = env.alexa(&in_locale(Some("de-DE"), german_order)).await;
    assert_eq!(
        speech(&answer),
        "Ich habe deine Pizzabestellung erhalten. \
         Bestätige sie mit dem Code, den ich dir per E-Mail geschickt habe."
    );
    assert_eq!(
        answer["response"]["card"]["title"],
        "Pizzabestellung erhalten"
    );
    let listed = env.listed(demo).await;
    assert_eq!(
        listed["pending"]["size"], "large",
        "the domain keeps its canonical sizes"
    );
    assert_eq!(
        listed["pending"]["toppings"],
        json!(["pepperoni", "mushrooms"])
    );
    let (_, answer) = env.alexa(&in_locale(Some("de-DE"), authorize(WRONG))).await;
    assert!(
        speech(&answer).starts_with("Dieser Code stimmt nicht. Du hast noch 2 Versuche."),
        "{answer}"
    );
    let (_, answer) = env.alexa(&in_locale(Some("de-DE"), authorize(CODE))).await;
    assert_eq!(
        speech(&answer),
        "Bestellung bestätigt. Deine große Pizza mit Salami und Pilzen ist unterwegs."
    );

    // A locale pod does not speak, or none, gets en-US.
    for locale in [Some("fr-FR"), Some("de"), Some(""), None] {
        let (_, answer) = env.alexa(&in_locale(locale, launch())).await;
        assert_eq!(speech(&answer), WELCOME, "{locale:?}");
        let (_, answer) = env
            .alexa(&in_locale(locale, intent("AMAZON.StopIntent", &[])))
            .await;
        assert_eq!(speech(&answer), "Goodbye.", "{locale:?}");
    }
    // The English variants speak English; en-GB says where the code went its way.
    for locale in ["en-GB", "en-CA", "en-AU", "en-IN"] {
        let (_, answer) = env.alexa(&in_locale(Some(locale), launch())).await;
        assert_eq!(speech(&answer), WELCOME, "{locale}");
    }
    let (_, answer) = env.alexa(&in_locale(Some("en-GB"), order())).await;
    assert_eq!(
        speech(&answer),
        "I have received your pizza request. \
         Authorize the transaction using the code sent to your email."
    );
}

#[tokio::test]
async fn every_kind_of_turn_gets_a_well_formed_answer() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    let turns = [
        (None, order(), "link your Pizza on Demand account", false),
        (
            Some("not-a-token"),
            order(),
            "link your Pizza on Demand account",
            false,
        ),
        (demo, intent("AMAZON.HelpIntent", &[]), "authorize", true),
        (
            demo,
            intent("AMAZON.FallbackIntent", &[]),
            "can't help with that",
            true,
        ),
        (demo, intent("AMAZON.StopIntent", &[]), "Goodbye.", false),
        (demo, intent("AMAZON.CancelIntent", &[]), "Goodbye.", false),
        (
            demo,
            intent("AMAZON.NavigateHomeIntent", &[]),
            "Goodbye.",
            false,
        ),
        (
            demo,
            intent("OrderCoffeeIntent", &[]),
            "get me a large pizza with pepperoni",
            true,
        ),
        (
            demo,
            json!({"type": "IntentRequest"}),
            "didn't understand",
            true,
        ),
        (
            demo,
            intent("GetMeSomePizzaIntent", &[("Toppings", "anchovies")]),
            "anchovies",
            true,
        ),
        (
            demo,
            intent("GetMeSomePizzaIntent", &[("Size", "gigantic")]),
            "gigantic",
            true,
        ),
        (demo, authorize(CODE), "no order waiting", true),
    ];
    for (token, request, says, open) in turns {
        let name = request["intent"]["name"].clone();
        let (speech, session_open) = env.say(token, request).await;
        assert!(speech.contains(says), "{name}: {speech}");
        assert_eq!(session_open, open, "{name}: {speech}");
    }
    // The LinkAccount card comes with a missing token.
    let (_, answer) = env.alexa(&envelope(env.now(), None, order())).await;
    assert_eq!(answer["response"]["card"]["type"], "LinkAccount");

    // The end of a session: 200 and nothing to say.
    for kind in ["SessionEndedRequest", "System.ExceptionEncountered"] {
        let (status, answer) = env
            .alexa(&envelope(
                env.now(),
                demo,
                json!({"type": kind, "reason": "USER_INITIATED"}),
            ))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer, json!({"version": "1.0", "response": {}}));
    }
    // A request type pod does not handle is a client error.
    let (status, answer) = env
        .alexa(&envelope(
            env.now(),
            demo,
            json!({"type": "AudioPlayer.PlaybackStarted"}),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"], "unsupported_request_type");
}

#[tokio::test]
async fn envelopes_with_missing_parts_are_understood() {
    let env = Env::new().await;
    // The token only in the session; a slot without a value; entity
    // resolution without values; fields pod does not know.
    let body = json!({
        "version": "1.0",
        "session": {"user": {"userId": "u", "accessToken": env.demo}, "attributes": {"x": 1}},
        "context": {"System": {"user": {"userId": "u"}, "device": {"deviceId": "d"}}},
        "request": {
            "type": "IntentRequest", "timestamp": format_iso8601(env.now()), "dialogState": "COMPLETED",
            "intent": {"name": "GetMeSomePizzaIntent", "confirmationStatus": "NONE", "slots": {
                "Size": {"name": "Size", "value": "big", "resolutions": {"resolutionsPerAuthority": [
                    {"authority": "a", "status": {"code": "ER_SUCCESS_MATCH"},
                     "values": [{"value": {"name": "large", "id": "LARGE"}}]}]}},
                "Toppings": {"name": "Toppings", "resolutions": {"resolutionsPerAuthority": [
                    {"authority": "a", "status": {"code": "ER_SUCCESS_NO_MATCH"}}]}}
            }},
            "somethingNew": [1, 2, 3]
        }
    });
    let (status, answer) = env.alexa(&body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["response"]["outputSpeech"]["text"], RECEIVED_EMAIL);
    let listed = env.listed(Some(&env.demo)).await;
    assert_eq!(listed["pending"]["size"], "large");
    assert_eq!(
        listed["pending"]["toppings"],
        json!(["ham", "bacon", "pineapple"]),
        "an empty toppings slot takes the original's default"
    );
}

#[tokio::test]
async fn an_identity_outage_is_an_apology_that_ends_the_session() {
    let env = Env::with(Overrides {
        tokens: Some(failing_tokens()),
        ..Overrides::default()
    })
    .await;
    for request in [order(), authorize(CODE)] {
        let (speech, open) = env.say(Some("some.access.token"), request).await;
        assert!(speech.contains("having trouble"), "{speech}");
        assert!(!open);
    }
}

#[tokio::test]
async fn huge_slot_values_keep_speech_short() {
    let env = Env::new().await;
    let topping = "z".repeat(50_000);
    let (speech, open) = env
        .say(
            Some(&env.demo),
            intent("GetMeSomePizzaIntent", &[("Toppings", &topping)]),
        )
        .await;
    assert!(open);
    assert!(speech.chars().count() < 8000);
    // A body over the 64 KiB limit is refused before anything reads it.
    let big = "y".repeat(70 * 1024);
    let body = envelope(
        env.now(),
        Some(&env.demo),
        intent("GetMeSomePizzaIntent", &[("Toppings", &big)]),
    );
    let (status, _) = env.alexa(&body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn the_router_verifies_signed_requests() {
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = DevSigningKeys::load_or_create(keys_dir.path()).unwrap();
    let env = Env::with(Overrides {
        verify: Some(keys.dev_mode()),
        skill_ids: vec![SKILL.to_owned()],
        ..Overrides::default()
    })
    .await;
    let body = envelope(env.now(), Some(&env.demo), order())
        .to_string()
        .into_bytes();
    let signed = vec![
        ("SignatureCertChainUrl", keys.chain_url().to_owned()),
        ("Signature-256", keys.sign(&body)),
    ];

    let (status, answer) = env.alexa_bytes(body.clone(), &[]).await;
    assert_eq!(
        (status, answer["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("cert_url"))
    );
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let (status, answer) = env.alexa_bytes(tampered, &signed).await;
    assert_eq!(
        (status, answer["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("signature_invalid"))
    );
    let listed = env.listed(Some(&env.demo)).await;
    assert_eq!(
        listed["pending"],
        Value::Null,
        "no order before a valid request"
    );

    let (status, answer) = env.alexa_bytes(body, &signed).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["response"]["outputSpeech"]["text"], RECEIVED_EMAIL);
}

// ------------------------------------------------------------- properties

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A JSON value of any type, small.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Either a plausible value or anything at all.
fn or_any(plausible: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
    prop_oneof![19 => plausible, 1 => any_json()].boxed()
}

/// Alexa-like envelopes: known and unknown request types and intents, slots
/// with odd values, tokens valid and not, and any field replaced by any JSON.
fn alexa_envelopes(token: String, now: String) -> impl Strategy<Value = Value> {
    let kind = or_any(
        prop_oneof![
            1 => Just("LaunchRequest".to_owned()),
            6 => Just("IntentRequest".to_owned()),
            1 => Just("SessionEndedRequest".to_owned()),
            1 => "[A-Za-z.]{0,24}",
        ]
        .prop_map(Value::String),
    );
    let name = or_any(
        prop_oneof![
            Just("GetMeSomePizzaIntent".to_owned()),
            Just("AuthorizePizzaOrderIntent".to_owned()),
            Just("AMAZON.HelpIntent".to_owned()),
            Just("AMAZON.StopIntent".to_owned()),
            Just("AMAZON.FallbackIntent".to_owned()),
            ".{0,24}",
        ]
        .prop_map(Value::String),
    );
    let slot_value = prop_oneof![
        Just(Value::Null),
        "[0-9 -]{0,10}".prop_map(Value::String),
        "(small|large|jumbo|big|pepperoni|ham|anchovies|and|, ){0,8}".prop_map(Value::String),
        ".{0,64}".prop_map(Value::String),
    ];
    let slot = or_any(
        (
            slot_value,
            prop::option::of(or_any(".{0,20}".prop_map(Value::String))),
        )
            .prop_map(|(value, resolutions)| {
            let mut slot = json!({"value": value});
            if let Some(resolutions) = resolutions {
                slot["resolutions"] = json!({"resolutionsPerAuthority": [
                    {"status": {"code": "ER_SUCCESS_MATCH"}, "values": [{"value": {"name": resolutions}}]}
                ]});
            }
            slot
        }),
    );
    let slots = prop::collection::btree_map(
        prop_oneof![
            Just("Size".to_owned()),
            Just("Toppings".to_owned()),
            Just("Code".to_owned()),
            "[A-Za-z]{0,6}",
        ],
        slot,
        0..4,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()));
    let token = or_any(prop_oneof![3 => Just(token), 1 => ".{0,40}"].prop_map(Value::String));
    let timestamp = or_any(Just(Value::String(now)));
    (
        kind,
        name,
        slots,
        token,
        timestamp,
        prop::bool::weighted(0.9),
    )
        .prop_map(|(kind, name, slots, token, timestamp, with_intent)| {
            // Each its own request id: a repeated one is a replay.
            static NEXT_ID: AtomicU64 = AtomicU64::new(1);
            let id = format!("r{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
            let mut request = json!({"type": kind, "timestamp": timestamp, "requestId": id});
            if with_intent {
                request["intent"] = json!({"name": name, "slots": slots});
            }
            json!({
                "version": "1.0",
                "session": {"user": {"accessToken": token}},
                "context": {"System": {"user": {"accessToken": token}}},
                "request": request,
            })
        })
}

#[test]
fn arbitrary_bytes_never_panic_or_answer_5xx() {
    let runtime = runtime();
    let env = runtime.block_on(Env::new());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(256));
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..512), |bytes| {
            let (status, _) = runtime.block_on(env.alexa_bytes(bytes, &[]));
            prop_assert!(status.is_client_error(), "{status}");
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_envelopes_never_panic_or_answer_5xx() {
    let runtime = runtime();
    let env = runtime.block_on(Env::new());
    let strategy = alexa_envelopes(env.demo.clone(), format_iso8601(env.now()));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(512));
    runner
        .run(&strategy, |envelope| {
            let (status, answer) = runtime.block_on(env.alexa(&envelope));
            prop_assert!(!status.is_server_error(), "{status}: {answer}");
            if status == StatusCode::OK {
                check_response(&answer);
            } else {
                prop_assert_eq!(status, StatusCode::BAD_REQUEST, "{}", answer);
                prop_assert!(answer["error"].is_string(), "{}", answer);
            }
            Ok(())
        })
        .unwrap();
}

/// Everything written by a `tracing` subscriber at TRACE level.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_carry_no_token_and_no_code_from_a_path() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // Global, not scoped: callsites that other tests of this binary met
    // first, with no subscriber, would otherwise stay switched off. Only
    // this test installs a subscriber; the others' lines land here too and
    // must not leak either.
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    let (status, _) = env.place(demo, json!({"size": "large"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = env
        .api(Method::POST, &format!("/api/authorize/{CODE}"), demo, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (speech, _) = env.say(demo, json!({"type": "LaunchRequest"})).await;
    assert!(speech.starts_with("Welcome"));

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains(r#"route="/api/authorize/{code}""#),
        "requests are traced by route:\n{text}"
    );
    assert!(
        !text.contains(&format!("authorize/{CODE}")),
        "the code in the path is not logged:\n{text}"
    );
    assert!(!text.contains(&env.demo), "the access token is not logged");
}
