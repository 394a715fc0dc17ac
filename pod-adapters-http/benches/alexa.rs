//! The whole `POST /alexa` handler for one order and its confirmation, in
//! memory: pod's real router over real adapters, called with
//! `tower::ServiceExt::oneshot` (no socket, no HTTP parsing).
//!
//! What one timed call covers: the router and its layers (trace, timeout,
//! body limit, metrics), request verification with a cached chain (chain
//! URL, chain validation, RSA PKCS#1 SHA-256 signature, timestamp, skill
//! id), envelope parsing, the HS256 access token, the directory lookup,
//! `OrderingService` with the confirmation policy, one-time codes (OS
//! CSPRNG, HMAC hash) and every SQL statement on `SqlStore` over
//! `sqlite::memory:`. Not covered: TCP and HTTP/1 framing (see the load
//! driver in `pod-server/examples/load.rs`) and fsync (an in-memory
//! database never syncs; the file database does on every commit).
//!
//! Two things differ from `pod serve`, both outside the timed calls:
//! - codes are delivered to `LastCodes` below, a `CodeDelivery` that keeps
//!   the latest code per customer in memory, instead of the outbox file;
//! - signing the request (what Alexa does, ~1 ms of RSA) happens before the
//!   clock starts, so each iteration takes longer in wall time than it
//!   reports.
//!
//! Each iteration sends one code. The policy allows 100 codes per customer
//! an hour, so the iterations rotate over `CUSTOMERS` users; every answer is
//! checked, so a rate-limited run fails instead of measuring refusals.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use pod_adapters_http::{HttpConfig, HttpState, LiveEvents, Metrics};
use pod_adapters_local::{
    CodeDelivery, CodeMessage, DeliveryError, LocalAccessTokens, LocalCodes, LocalCodesConfig,
    LocalDirectory, LocalTokenConfig, LocalTokenKey, LocalUsers, OsCodeGenerator, SystemClock,
    UuidOrderIds,
};
use pod_adapters_sql::SqlStore;
use pod_alexa::verify::{DevSigningKeys, RequestVerifier, VerifierConfig, format_iso8601};
use pod_domain::{Channel, ConfirmationPolicy};
use pod_ports::{Clock, OrderingService, Ports};
use serde_json::{Value, json};
use tower::ServiceExt;

const SKILL_ID: &str = "amzn1.ask.skill.bench";
/// Users the iterations rotate over: 2,000 × 100 codes an hour is far more
/// than a short criterion run sends.
const CUSTOMERS: usize = 2_000;

/// A `CodeDelivery` that remembers the last code per customer, so the bench
/// can speak it back without reading a file. Bench-only.
#[derive(Debug, Default)]
struct LastCodes(Mutex<HashMap<String, String>>);

impl LastCodes {
    fn take(&self, customer: &str) -> String {
        self.0
            .lock()
            .unwrap()
            .remove(customer)
            .expect("a code was sent")
    }
}

#[async_trait]
impl CodeDelivery for LastCodes {
    fn handles(&self, _channel: Channel) -> bool {
        true
    }

    async fn deliver(&self, message: &CodeMessage<'_>) -> Result<(), DeliveryError> {
        self.0.lock().unwrap().insert(
            message.customer.as_str().to_owned(),
            message.code.expose().to_owned(),
        );
        Ok(())
    }
}

struct Skill {
    router: Router,
    keys: DevSigningKeys,
    codes: Arc<LastCodes>,
    /// (customer id, access token) per user.
    users: Vec<(String, String)>,
    next: AtomicUsize,
    requests: AtomicUsize,
    _dir: tempfile::TempDir,
}

impl Skill {
    /// pod wired as `pod serve` wires the embedded default, over an
    /// in-memory database, with `CUSTOMERS` users.
    async fn build() -> Skill {
        let dir = tempfile::tempdir().expect("temp dir");
        let keys = DevSigningKeys::load_or_create(dir.path()).expect("dev keys");
        let store = Arc::new(SqlStore::connect("sqlite::memory:").await.expect("store"));
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let token_key = LocalTokenKey::from_bytes(&[42; 32]).expect("key");
        let tokens = LocalAccessTokens::new(&token_key, LocalTokenConfig::default(), clock.clone());
        let policy = ConfirmationPolicy::default()
            .with_max_codes_per_hour(100)
            .expect("policy");
        let codes = Arc::new(LastCodes::default());
        let local_codes = LocalCodes::new(
            Arc::new(OsCodeGenerator),
            clock.clone(),
            policy.code_lifetime(),
            vec![codes.clone()],
            LocalCodesConfig::from_policy(&policy, token_key.derive_code_hash_key()),
        )
        .expect("codes");

        let directory = LocalUsers::new(store.clone(), clock.clone());
        let mut users = Vec::with_capacity(CUSTOMERS);
        for i in 0..CUSTOMERS {
            let user = directory
                .add(&format!("user{i}"), &format!("user{i}@example.com"), None)
                .await
                .expect("user");
            let token = tokens.issue(&user.id, Duration::from_secs(24 * 3600), clock.now());
            users.push((user.id.as_str().to_owned(), token));
        }

        let ports = Ports {
            tokens: Arc::new(tokens),
            directory: Arc::new(LocalDirectory::new(store.clone())),
            codes: Arc::new(local_codes),
            store: store.clone(),
            events: Arc::new(LiveEvents::default()),
            clock: clock.clone(),
            ids: Arc::new(UuidOrderIds),
        };
        let mut verifier_config = VerifierConfig::new(keys.dev_mode());
        verifier_config.skill_ids = vec![SKILL_ID.to_owned()];
        let state = HttpState::new(
            OrderingService::new(ports, policy),
            RequestVerifier::new(verifier_config).expect("verifier"),
            clock,
            store.clone(),
            Metrics::new(),
            HttpConfig::default(),
        )
        .with_answered_requests(store);
        Skill {
            router: pod_adapters_http::router(state),
            keys,
            codes,
            users,
            next: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
            _dir: dir,
        }
    }

    /// The next user in the rotation.
    fn next_user(&self) -> (String, String) {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.users[i % self.users.len()].clone()
    }

    /// A signed `IntentRequest`, as Alexa would send it now.
    fn request(&self, token: &str, intent: Value) -> axum::http::Request<Body> {
        let user = json!({"userId": "amzn1.ask.account.bench", "accessToken": token});
        // Each request its own id, as Alexa's: a repeated one is a replay.
        let request_id = format!(
            "amzn1.echo-api.request.bench-{}",
            self.requests.fetch_add(1, Ordering::Relaxed)
        );
        let body = json!({
            "version": "1.0",
            "session": {"new": true, "sessionId": "amzn1.echo-api.session.bench",
                "application": {"applicationId": SKILL_ID}, "user": user},
            "context": {"System": {"application": {"applicationId": SKILL_ID}, "user": user}},
            "request": {"type": "IntentRequest", "requestId": request_id,
                "timestamp": format_iso8601(SystemClock.now()), "locale": "en-US", "intent": intent}
        });
        let body = serde_json::to_vec(&body).expect("json");
        axum::http::Request::post("/alexa")
            .header("content-type", "application/json")
            .header("SignatureCertChainUrl", self.keys.chain_url())
            .header("Signature-256", self.keys.sign(&body))
            .body(Body::from(body))
            .expect("request")
    }

    fn order(&self, token: &str) -> axum::http::Request<Body> {
        self.request(
            token,
            json!({"name": "GetMeSomePizzaIntent", "confirmationStatus": "NONE", "slots": {
                "Size": {"name": "Size", "value": "large"},
                "Toppings": {"name": "Toppings", "value": "pepperoni"}}}),
        )
    }

    fn confirm(&self, token: &str, code: &str) -> axum::http::Request<Body> {
        self.request(
            token,
            json!({"name": "AuthorizePizzaOrderIntent", "confirmationStatus": "NONE", "slots": {
                "Code": {"name": "Code", "value": code}}}),
        )
    }

    /// Sends one request and returns how long the router took, checking that
    /// the speech starts with `expected`.
    async fn send(&self, request: axum::http::Request<Body>, expected: &str) -> Duration {
        let started = Instant::now();
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let took = started.elapsed();
        let answer: Value = serde_json::from_slice(&body).expect("json answer");
        let speech = answer["response"]["outputSpeech"]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(speech.starts_with(expected), "unexpected answer: {answer}");
        took
    }

    /// One whole flow; returns the time of (order, confirm).
    async fn flow(&self) -> (Duration, Duration) {
        let (customer, token) = self.next_user();
        let ordered = self.send(self.order(&token), "I have received").await;
        let code = self.codes.take(&customer);
        let confirmed = self
            .send(self.confirm(&token, &code), "Order confirmed")
            .await;
        (ordered, confirmed)
    }
}

fn alexa_handler(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let skill = rt.block_on(Skill::build());
    // The first request fills the chain cache.
    rt.block_on(skill.flow());

    let mut group = c.benchmark_group("alexa handler (in-memory SQLite)");
    // Each iteration is a whole flow; only one of its two calls is timed.
    group.bench_function("order (GetMeSomePizzaIntent)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += skill.flow().await.0;
                }
                total
            })
        })
    });
    group.bench_function("confirm (AuthorizePizzaOrderIntent)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += skill.flow().await.1;
                }
                total
            })
        })
    });
    group.finish();
}

criterion_group!(benches, alexa_handler);
criterion_main!(benches);
