//! Faults of the identity provider, rehearsed end to end: `/alexa` through
//! the router, the real `OrderingService`, the real Auth0 adapters pointed
//! at the fake tenant (wiremock on loopback) and a SQLite file.
//!
//! One table: each fault kind is played by the fake instead of its answers
//! (`FakeAuth0::inject_fault`, until `heal`), and for each the skill must
//! answer with clear speech (an HTTP 200 with speech, never a 5xx or
//! silence), leave no order waiting for a code that was never sent (the
//! store is read), and serve the first order and confirmation after the
//! recovery. Auth0's time limits are the short ones of the adapter tests,
//! so the fake "hangs" (7 s) far longer than pod's own budget.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pod_adapters_auth0::fake::{FakeAlgorithm, FakeAuth0, FakeUser};
use pod_adapters_auth0::{Auth0Adapters, Timeouts};
use pod_domain::{CancelReason, CustomerId, OrderState};
use pod_ports::testing::ManualClock;
use wiremock::ResponseTemplate;

use super::*;

const ALICE: &str = "auth0|alice";
const ALICE_EMAIL: &str = "alice@example.com";
const TROUBLE: &str = "having trouble";
const TOO_SLOW: &str = "taking longer than it should";
const NOT_SENT: &str = "couldn't send your authorization code, so I cancelled the order";

/// Longer than any budget of pod's: the fake "hangs".
const HANG: Duration = Duration::from_secs(7);

fn short_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_millis(300),
        request: Duration::from_millis(300),
        budget: Duration::from_millis(800),
        retries: 2,
        backoff: Duration::from_millis(10),
    }
}

/// The router over the Auth0 adapters (pointed at `base`) and a SQLite
/// file, with `/alexa` unsigned (verification off; timestamp checked).
struct AuthEnv {
    router: Router,
    clock: Arc<ManualClock>,
    store: Arc<SqlStore>,
    _dir: tempfile::TempDir,
}

impl AuthEnv {
    async fn new(
        fake: &FakeAuth0,
        base: &str,
        access: FakeAlgorithm,
        timeouts: Timeouts,
        http: HttpConfig,
    ) -> AuthEnv {
        let dir = tempfile::tempdir().unwrap();
        let clock = test_clock();
        let store = Arc::new(
            SqlStore::open_sqlite(&dir.path().join("pod.db"))
                .await
                .unwrap(),
        );
        let config = fake
            .config(access, FakeAlgorithm::Hs256)
            .with_base_url(base)
            .unwrap()
            .with_timeouts(timeouts)
            .with_clock(clock.clone());
        let auth0 = Auth0Adapters::new(config).unwrap();
        let ports = Ports {
            tokens: auth0.access_tokens,
            directory: auth0.directory,
            codes: auth0.codes,
            store: store.clone(),
            events: Arc::new(LiveEvents::default()),
            clock: clock.clone(),
            ids: Arc::new(UuidOrderIds),
        };
        let state = HttpState::new(
            OrderingService::new(ports, ConfirmationPolicy::default()),
            RequestVerifier::new(VerifierConfig::new(VerifyMode::Off)).unwrap(),
            clock.clone(),
            store.clone(),
            Metrics::new(),
            http,
        );
        AuthEnv {
            router: pod_adapters_http::router(state),
            clock,
            store,
            _dir: dir,
        }
    }

    /// Says `request` as the holder of `token`: the answer must be a 200
    /// with a well-formed response envelope. Its speech and card type.
    async fn say(&self, token: &str, request: Value) -> (String, Option<String>) {
        let body = envelope(self.clock.now(), Some(token), request).to_string();
        let request = Request::post("/alexa")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let answer = json_of(&bytes);
        assert_eq!(status, StatusCode::OK, "{answer}");
        check_response(&answer);
        let speech = answer["response"]["outputSpeech"]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("no speech: {answer}"))
            .to_owned();
        let card = answer["response"]["card"]["type"]
            .as_str()
            .map(str::to_owned);
        (speech, card)
    }

    async fn orders(&self) -> Vec<pod_domain::Order> {
        let alice = CustomerId::parse(ALICE).unwrap();
        self.store.orders_of(&alice).await.unwrap()
    }

    /// What the store holds for alice now.
    async fn after(&self) -> After {
        let orders = self.orders().await;
        if orders.iter().any(|o| o.awaiting().is_some()) {
            return After::Awaiting;
        }
        let undeliverable = orders.iter().any(|o| {
            matches!(
                o.state(),
                OrderState::Cancelled {
                    reason: CancelReason::CodeDeliveryFailed,
                    ..
                }
            )
        });
        match (orders.is_empty(), undeliverable) {
            (true, _) => After::NoOrder,
            (false, true) => After::Undeliverable,
            (false, false) => panic!("unexpected orders: {orders:?}"),
        }
    }

    /// Orders and confirms with the code the fake sent: the skill works.
    async fn order_and_confirm(&self, fake: &FakeAuth0, token: &str) {
        let (speech, _) = self.say(token, order()).await;
        assert_eq!(speech, RECEIVED_EMAIL);
        self.confirm(fake, token).await;
    }

    async fn confirm(&self, fake: &FakeAuth0, token: &str) {
        let code = fake.last_code(ALICE_EMAIL).expect("a code was sent");
        let (speech, _) = self.say(token, authorize(&code)).await;
        assert!(speech.starts_with("Order confirmed."), "{speech}");
        let orders = self.orders().await;
        assert!(orders.iter().all(|o| o.awaiting().is_none()), "{orders:?}");
    }
}

/// What the store holds for the customer after the faulty turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// No order at all: the fault struck before anything was stored.
    NoOrder,
    /// The order was stored, its code could not be sent, and it is
    /// cancelled as undeliverable: nothing waits.
    Undeliverable,
    /// The order still waits for the code that was sent before the fault.
    Awaiting,
}

/// Which turn meets the fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// "get me a large pizza with pepperoni".
    Order,
    /// "authorize ..." for an order placed while Auth0 was healthy.
    Confirm,
}

/// What goes wrong.
#[derive(Debug, Clone)]
enum Fault {
    /// Every route answers `response` (with `set_delay` for latency).
    Everywhere(ResponseTemplate),
    /// The routes of one method under one path prefix answer `response`.
    Route(&'static str, &'static str, ResponseTemplate),
    /// Nothing listens at Auth0's address.
    Refused,
}

struct Case {
    name: &'static str,
    turn: Turn,
    fault: Fault,
    access: FakeAlgorithm,
    /// Words the answer must contain.
    says: &'static str,
    after: After,
}

fn status(code: u16) -> ResponseTemplate {
    ResponseTemplate::new(code)
}

fn cases() -> Vec<Case> {
    let hang = || status(200).set_delay(HANG);
    let garbage = || status(200).set_body_string("{\"access_token\": ");
    let retry_after = |code| status(code).insert_header("retry-after", "30");
    let case = |name, turn, fault, says, after| Case {
        name,
        turn,
        fault,
        access: FakeAlgorithm::Hs256,
        says,
        after,
    };
    vec![
        case(
            "7 s latency on every route",
            Turn::Order,
            Fault::Everywhere(hang()),
            TROUBLE,
            After::NoOrder,
        ),
        case(
            "connection refused",
            Turn::Order,
            Fault::Refused,
            TROUBLE,
            After::NoOrder,
        ),
        case(
            "passwordless start times out after the order was stored",
            Turn::Order,
            Fault::Route("POST", "/passwordless/start", hang()),
            NOT_SENT,
            After::Undeliverable,
        ),
        case(
            "passwordless start answers 503",
            Turn::Order,
            Fault::Route("POST", "/passwordless/start", status(503)),
            NOT_SENT,
            After::Undeliverable,
        ),
        case(
            "passwordless start answers 429 with Retry-After",
            Turn::Order,
            Fault::Route("POST", "/passwordless/start", retry_after(429)),
            "too many codes",
            After::Undeliverable,
        ),
        case(
            "the Management API answers 429 with Retry-After",
            Turn::Order,
            Fault::Route("GET", "/api/v2/users/", retry_after(429)),
            TROUBLE,
            After::NoOrder,
        ),
        case(
            "the Management API token answers 500",
            Turn::Order,
            Fault::Route("POST", "/oauth/token", status(500)),
            TROUBLE,
            After::NoOrder,
        ),
        case(
            "the user lookup answers malformed JSON",
            Turn::Order,
            Fault::Route("GET", "/api/v2/users/", garbage()),
            TROUBLE,
            After::NoOrder,
        ),
        Case {
            access: FakeAlgorithm::Rs256,
            ..case(
                "the JWKS lacks the access token's key",
                Turn::Order,
                Fault::Route(
                    "GET",
                    "/.well-known/jwks.json",
                    status(200).set_body_json(json!({"keys": []})),
                ),
                "link your Pizza on Demand account",
                After::NoOrder,
            )
        },
        case(
            "the code check times out",
            Turn::Confirm,
            Fault::Route("POST", "/oauth/token", hang()),
            TROUBLE,
            After::Awaiting,
        ),
        case(
            "the code check answers 502",
            Turn::Confirm,
            Fault::Route("POST", "/oauth/token", status(502)),
            TROUBLE,
            After::Awaiting,
        ),
        case(
            "the code check answers malformed JSON",
            Turn::Confirm,
            Fault::Route("POST", "/oauth/token", garbage()),
            TROUBLE,
            After::Awaiting,
        ),
        case(
            "the code check answers 429 with Retry-After",
            Turn::Confirm,
            Fault::Route("POST", "/oauth/token", retry_after(429)),
            "Too many codes were tried",
            After::Awaiting,
        ),
    ]
}

/// Plays `fault` instead of the fake's answers until [`FakeAuth0::heal`].
fn inject(fake: &FakeAuth0, fault: &Fault) {
    match fault {
        Fault::Refused => {}
        Fault::Everywhere(response) => fake.inject_fault(None, "/", response.clone()),
        Fault::Route(verb, prefix, response) => {
            fake.inject_fault(Some(verb), prefix, response.clone())
        }
    }
}

/// A loopback address nothing listens on (for now).
fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

async fn tenant(fake: FakeAuth0) -> FakeAuth0 {
    // Id tokens HS256 (what `AuthEnv` configures), also on a restarted fake.
    let _ = fake.config(FakeAlgorithm::Hs256, FakeAlgorithm::Hs256);
    fake.add_user(FakeUser::new(ALICE).with_email(ALICE_EMAIL));
    fake
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_auth0_fault_gets_clear_speech_no_stranded_order_and_a_working_recovery() {
    for case in cases() {
        let name = case.name;
        let refused = matches!(case.fault, Fault::Refused);
        // For a refused connection pod is pointed at a closed port, where
        // the tenant comes up later.
        let addr = closed_port();
        let mut fake = tenant(FakeAuth0::start().await).await;
        let base = if refused {
            format!("http://{addr}")
        } else {
            fake.uri()
        };
        let env = AuthEnv::new(
            &fake,
            &base,
            case.access,
            short_timeouts(),
            HttpConfig::default(),
        )
        .await;
        let token = fake.mint_access_token(ALICE, case.access);

        if case.turn == Turn::Confirm {
            let (speech, _) = env.say(&token, order()).await;
            assert_eq!(speech, RECEIVED_EMAIL, "{name}");
        }
        let sent_before = fake.sent_codes().len();
        inject(&fake, &case.fault);
        let turn = match case.turn {
            Turn::Order => order(),
            Turn::Confirm => authorize(&fake.last_code(ALICE_EMAIL).unwrap()),
        };
        let (speech, _) = env.say(&token, turn).await;
        assert!(speech.contains(case.says), "{name}: {speech}");
        assert_eq!(env.after().await, case.after, "{name}");
        if case.after != After::Awaiting {
            // No code went out for an order that does not wait for one.
            assert_eq!(fake.sent_codes().len(), sent_before, "{name}");
        }

        // Recovery: the healthy tenant is back (on the same address), and
        // every pause Auth0 asked for (Retry-After: 30) or pod keeps (the
        // JWKS refetch brake, 30 s) has run out.
        fake.heal();
        if refused {
            let listener = std::net::TcpListener::bind(addr).unwrap();
            let token_fake = fake;
            fake = tenant(FakeAuth0::start_on(listener).await).await;
            drop(token_fake);
        }
        env.clock.advance(Duration::from_secs(31));
        match (case.turn, case.after) {
            (Turn::Confirm, After::Awaiting) => env.confirm(&fake, &token).await,
            _ => env.order_and_confirm(&fake, &token).await,
        }
        // And the next whole conversation too.
        env.order_and_confirm(&fake, &token).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_later_than_the_deadline_is_an_apology_and_the_order_is_still_settled() {
    let fake = tenant(FakeAuth0::start().await).await;
    // Auth0's real per-request limit (2 s), and a router that must answer
    // within 1 s: the skill's deadline (0.75 s) strikes while the code is
    // still being sent.
    let env = AuthEnv::new(
        &fake,
        &fake.uri(),
        FakeAlgorithm::Hs256,
        Timeouts::default(),
        HttpConfig {
            request_timeout: Duration::from_secs(1),
            ..HttpConfig::default()
        },
    )
    .await;
    let token = fake.mint_access_token(ALICE, FakeAlgorithm::Hs256);
    inject(
        &fake,
        &Fault::Route("POST", "/passwordless/start", status(200).set_delay(HANG)),
    );
    let (speech, _) = env.say(&token, order()).await;
    assert!(speech.contains(TOO_SLOW), "{speech}");
    // The skill's work went on after the apology: the send timed out and
    // the order was cancelled as undeliverable, not left waiting.
    let settled = async {
        while env.after().await != After::Undeliverable {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), settled)
        .await
        .expect("the order is settled");
    fake.heal();
    env.order_and_confirm(&fake, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_order_past_the_router_timeout_is_a_408_and_still_settled() {
    let fake = tenant(FakeAuth0::start().await).await;
    let env = AuthEnv::new(
        &fake,
        &fake.uri(),
        FakeAlgorithm::Hs256,
        Timeouts::default(),
        HttpConfig {
            request_timeout: Duration::from_secs(1),
            ..HttpConfig::default()
        },
    )
    .await;
    let token = fake.mint_access_token(ALICE, FakeAlgorithm::Hs256);
    inject(
        &fake,
        &Fault::Route("POST", "/passwordless/start", status(200).set_delay(HANG)),
    );
    let request = Request::post("/api/orders")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({"size": "large"}).to_string()))
        .unwrap();
    let response = env.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    let settled = async {
        while env.after().await != After::Undeliverable {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), settled)
        .await
        .expect("the order is settled, not left waiting");
}
