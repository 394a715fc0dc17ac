//! Replays of `/alexa` requests: a request id answered once gets the same
//! answer, byte for byte, and changes nothing; copies arriving together are
//! processed once.

use std::sync::atomic::AtomicUsize;

use async_trait::async_trait;
use pod_domain::{CodeCheck, CodeDigest, Destination};
use pod_ports::{Claim, CodePurpose, OneTimeCode};
use tokio::sync::{Notify, Semaphore};

use super::*;

/// The code port, counting deliveries, each of which tells `arrived` and
/// then waits for a permit of `gate`.
struct GatedCodes {
    inner: Arc<dyn OneTimeCodes>,
    gate: Arc<Semaphore>,
    arrived: Arc<Notify>,
    delivered: Arc<AtomicUsize>,
}

#[async_trait]
impl OneTimeCodes for GatedCodes {
    fn issue(&self, customer: &CustomerId, purpose: &CodePurpose) -> NewCode {
        self.inner.issue(customer, purpose)
    }

    async fn deliver(
        &self,
        customer: &CustomerId,
        destination: &Destination,
        purpose: &CodePurpose,
        code: &NewCode,
    ) -> Result<(), CodeError> {
        self.arrived.notify_one();
        let _permit = self.gate.acquire().await.unwrap();
        self.delivered.fetch_add(1, Ordering::SeqCst);
        self.inner
            .deliver(customer, destination, purpose, code)
            .await
    }

    async fn check(
        &self,
        customer: &CustomerId,
        destination: &Destination,
        purpose: &CodePurpose,
        digest: Option<CodeDigest>,
        spoken: &OneTimeCode,
    ) -> Result<CodeCheck, CodeError> {
        self.inner
            .check(customer, destination, purpose, digest, spoken)
            .await
    }
}

/// The answered requests of `inner`, telling `in_flight` whenever a claim
/// finds the id taken and not answered yet.
struct ObservedAnswers {
    inner: Arc<dyn AnsweredRequests>,
    in_flight: Arc<Notify>,
}

#[async_trait]
impl AnsweredRequests for ObservedAnswers {
    async fn claim(
        &self,
        request_id: &str,
        fingerprint: &[u8],
        now: Timestamp,
        keep_until: Timestamp,
    ) -> Result<Claim, StoreError> {
        let claim = self
            .inner
            .claim(request_id, fingerprint, now, keep_until)
            .await?;
        if matches!(claim, Claim::Taken { answer: None, .. }) {
            self.in_flight.notify_one();
        }
        Ok(claim)
    }

    async fn record_answer(&self, request_id: &str, answer: &str) -> Result<(), StoreError> {
        self.inner.record_answer(request_id, answer).await
    }

    async fn release(&self, request_id: &str) -> Result<(), StoreError> {
        self.inner.release(request_id).await
    }
}

/// An [`Env`] whose deliveries wait at `gate` and are counted, and whose
/// claims found in flight are signalled.
struct Gated {
    env: Env,
    gate: Arc<Semaphore>,
    arrived: Arc<Notify>,
    delivered: Arc<AtomicUsize>,
    in_flight: Arc<Notify>,
}

impl Gated {
    async fn new(open: bool, replay_wait: Duration) -> Gated {
        let gate = Arc::new(Semaphore::new(if open { 1000 } else { 0 }));
        let delivered = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(Notify::new());
        let arrived = Arc::new(Notify::new());
        let answers_store = Arc::new(SqlStore::connect("sqlite::memory:").await.unwrap());
        let (g, a, d) = (gate.clone(), arrived.clone(), delivered.clone());
        let env = Env::with(Overrides {
            wrap_codes: Some(Box::new(move |inner| {
                Arc::new(GatedCodes {
                    inner,
                    gate: g,
                    arrived: a,
                    delivered: d,
                })
            })),
            answers: Some(Arc::new(ObservedAnswers {
                inner: answers_store,
                in_flight: in_flight.clone(),
            })),
            replay_wait: Some(replay_wait),
            ..Overrides::default()
        })
        .await;
        Gated {
            env,
            gate,
            arrived,
            delivered,
            in_flight,
        }
    }

    fn delivered(&self) -> usize {
        self.delivered.load(Ordering::SeqCst)
    }
}

/// Posts the exact bytes to `/alexa`: the status and the exact body.
async fn post(router: &Router, body: &[u8]) -> (StatusCode, Vec<u8>) {
    let request = Request::post("/alexa")
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, bytes.to_vec())
}

fn speech(body: &[u8]) -> String {
    json_of(body)["response"]["outputSpeech"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn demo_customer() -> CustomerId {
    CustomerId::parse("local|demo").unwrap()
}

async fn metric(env: &Env, line: &str) -> bool {
    env.get("/metrics").await.1.lines().any(|l| l == line)
}

#[tokio::test]
async fn a_replayed_order_gets_the_same_answer_and_places_nothing_more() {
    let gated = Gated::new(true, Duration::from_secs(60)).await;
    let env = &gated.env;
    let body = envelope(env.now(), Some(&env.demo), order())
        .to_string()
        .into_bytes();
    let (status, first) = post(&env.router, &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(speech(&first), RECEIVED_EMAIL);
    for _ in 0..3 {
        let (status, again) = post(&env.router, &body).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again, first, "the same bytes");
    }
    assert_eq!(gated.delivered(), 1, "one code sent");
    assert_eq!(env.sql.orders_of(&demo_customer()).await.unwrap().len(), 1);
    assert!(metric(env, "pod_codes_sent_total 1").await);
    assert!(
        metric(
            env,
            r#"pod_alexa_replays_total{outcome="answered_again"} 3"#
        )
        .await
    );

    // A new request (another id) with the same words is a new order.
    let (speech_, _) = env.say(Some(&env.demo), order()).await;
    assert!(
        speech_.starts_with("I cancelled your previous order."),
        "{speech_}"
    );
    assert_eq!(gated.delivered(), 2);
}

#[tokio::test]
async fn a_replayed_wrong_code_counts_once() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    env.say(demo, order()).await;
    let wrong = envelope(env.now(), demo, authorize(WRONG))
        .to_string()
        .into_bytes();
    let (status, first) = post(&env.router, &wrong).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        speech(&first).contains("2 attempts left"),
        "{}",
        speech(&first)
    );
    for _ in 0..5 {
        assert_eq!(
            post(&env.router, &wrong).await,
            (StatusCode::OK, first.clone())
        );
    }
    let account = env.sql.load_account(&demo_customer()).await.unwrap();
    assert_eq!(account.lockout().consecutive_failures, 1);
    // The next wrong code (a new request) is the second, not the seventh.
    let (speech_, open) = env.say(demo, authorize(WRONG)).await;
    assert!(speech_.contains("1 attempt left"), "{speech_}");
    assert!(open);
    let (speech_, _) = env.say(demo, authorize(CODE)).await;
    assert!(speech_.starts_with("Order confirmed."), "{speech_}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn copies_arriving_together_are_processed_once() {
    for round in 0..5 {
        // Deliveries wait until a copy has found the first one in flight;
        // the copies then wait for its answer (as long as they need).
        let gated = Gated::new(false, Duration::from_secs(60)).await;
        let env = &gated.env;
        let body = envelope(env.now(), Some(&env.demo), order())
            .to_string()
            .into_bytes();
        let copies: Vec<_> = (0..4)
            .map(|_| {
                let (router, body) = (env.router.clone(), body.clone());
                tokio::spawn(async move { post(&router, &body).await })
            })
            .collect();
        // A bound for a broken build, not a measurement: without replay
        // protection every copy waits at the gate and none is in flight.
        tokio::time::timeout(Duration::from_secs(30), gated.in_flight.notified())
            .await
            .expect("no copy found the first one in flight");
        gated.gate.add_permits(1000);
        let mut answers = Vec::new();
        for copy in copies {
            answers.push(copy.await.unwrap());
        }
        for answer in &answers {
            assert_eq!(answer.0, StatusCode::OK, "round {round}");
            assert_eq!(answer.1, answers[0].1, "round {round}: the same bytes");
        }
        assert_eq!(speech(&answers[0].1), RECEIVED_EMAIL);
        assert_eq!(gated.delivered(), 1, "round {round}: one code sent");
        assert_eq!(env.sql.orders_of(&demo_customer()).await.unwrap().len(), 1);
        assert!(
            metric(
                env,
                r#"pod_alexa_replays_total{outcome="answered_again"} 3"#
            )
            .await
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_a_request_still_in_progress_is_refused_and_changes_nothing() {
    // Copies wait for the answer hardly at all.
    let gated = Gated::new(false, Duration::from_millis(1)).await;
    let env = &gated.env;
    let body = envelope(env.now(), Some(&env.demo), order())
        .to_string()
        .into_bytes();
    let first = {
        let (router, body) = (env.router.clone(), body.clone());
        tokio::spawn(async move { post(&router, &body).await })
    };
    // The first is claimed and held at its delivery by the closed gate.
    gated.arrived.notified().await;
    let (status, copy) = post(&env.router, &body).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(json_of(&copy)["error"], "request_in_progress");
    assert_eq!(gated.delivered(), 0);
    gated.gate.add_permits(1000);
    let (status, answer) = first.await.unwrap();
    assert_eq!(
        (status, speech(&answer).as_str()),
        (StatusCode::OK, RECEIVED_EMAIL)
    );
    assert_eq!(gated.delivered(), 1);
    assert_eq!(env.sql.orders_of(&demo_customer()).await.unwrap().len(), 1);
    assert!(metric(env, r#"pod_alexa_replays_total{outcome="in_progress"} 1"#).await);
    // Once answered, a copy gets the answer.
    assert_eq!(post(&env.router, &body).await, (StatusCode::OK, answer));
}

#[tokio::test]
async fn a_request_answered_with_an_apology_is_processed_again_when_retried() {
    let mut tokens = MockAccessTokens::new();
    let mut outage = true;
    tokens.expect_customer_for_token().returning(move |_| {
        if std::mem::take(&mut outage) {
            Err(TokenError::Unavailable("jwks down".into()))
        } else {
            Ok(demo_customer())
        }
    });
    let env = Env::with(Overrides {
        tokens: Some(Arc::new(tokens)),
        ..Overrides::default()
    })
    .await;
    let body = envelope(env.now(), Some("a.token"), order())
        .to_string()
        .into_bytes();
    let (status, first) = post(&env.router, &body).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        speech(&first).contains("having trouble"),
        "{}",
        speech(&first)
    );
    // The claim was released: Alexa's retry is processed.
    let (status, retried) = post(&env.router, &body).await;
    assert_eq!(
        (status, speech(&retried).as_str()),
        (StatusCode::OK, RECEIVED_EMAIL)
    );
    // And is then answered as itself.
    assert_eq!(post(&env.router, &body).await, (StatusCode::OK, retried));
    assert_eq!(env.sql.orders_of(&demo_customer()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_request_id_reused_for_other_bytes_is_refused() {
    let env = Env::new().await;
    let mut order_request = envelope(env.now(), Some(&env.demo), order());
    order_request["request"]["requestId"] = json!("amzn1.echo-api.request.reused");
    let (status, _) = post(&env.router, order_request.to_string().as_bytes()).await;
    assert_eq!(status, StatusCode::OK);
    let mut other = envelope(env.now(), Some(&env.demo), authorize(CODE));
    other["request"]["requestId"] = json!("amzn1.echo-api.request.reused");
    let (status, answer) = post(&env.router, other.to_string().as_bytes()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(json_of(&answer)["error"], "request_id_reused");
    let listed = env.listed(Some(&env.demo)).await;
    assert_eq!(listed["confirmed"], json!([]), "nothing confirmed");
    assert!(metric(&env, r#"pod_alexa_replays_total{outcome="id_reused"} 1"#).await);
}

#[tokio::test]
async fn only_a_verified_request_claims_its_id() {
    let env = Env::new().await;
    let mut stale = envelope(env.now(), Some(&env.demo), order());
    stale["request"]["requestId"] = json!("amzn1.echo-api.request.once");
    stale["request"]["timestamp"] =
        json!(format_iso8601(env.now().minus(Duration::from_secs(3600))));
    let (status, answer) = post(&env.router, stale.to_string().as_bytes()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", json_of(&answer));
    let mut fresh = envelope(env.now(), Some(&env.demo), order());
    fresh["request"]["requestId"] = json!("amzn1.echo-api.request.once");
    let (status, answer) = post(&env.router, fresh.to_string().as_bytes()).await;
    assert_eq!(
        (status, speech(&answer).as_str()),
        (StatusCode::OK, RECEIVED_EMAIL)
    );
}

#[tokio::test]
async fn requests_that_change_nothing_are_simply_answered_again() {
    let env = Env::new().await;
    let body = envelope(env.now(), None, launch()).to_string().into_bytes();
    let (status, first) = post(&env.router, &body).await;
    assert_eq!((status, speech(&first).as_str()), (StatusCode::OK, WELCOME));
    assert_eq!(post(&env.router, &body).await, (StatusCode::OK, first));
    assert!(
        !env.get("/metrics")
            .await
            .1
            .contains("pod_alexa_replays_total{")
    );
}

#[tokio::test]
async fn a_replayed_cancel_does_not_cancel_the_order_placed_after_it() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    env.say(demo, order()).await;
    let cancel = envelope(env.now(), demo, intent("AMAZON.CancelIntent", &[]))
        .to_string()
        .into_bytes();
    let (status, first) = post(&env.router, &cancel).await;
    assert_eq!(status, StatusCode::OK);
    assert!(speech(&first).starts_with("Okay, I cancelled your order"));
    // A new order, then the old "cancel" again: the first answer, and the
    // new order still waits for its code.
    env.say(demo, order()).await;
    let (status, again) = post(&env.router, &cancel).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first, "the same bytes");
    assert!(env.listed(demo).await["pending"].is_object());
}
