//! Progressive responses: a slow order step makes the skill say "One moment
//! while I send your code." through Alexa's directive service (here a
//! wiremock fake on loopback), and whatever the service does (2xx, 4xx,
//! 5xx, too slow, or a forged endpoint) the skill's answer is the normal
//! one and never waits for it.
//!
//! No test asserts on time: the order step's code delivery waits on a gate
//! the test opens once the directive's outcome is known.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pod_adapters_http::ProgressiveResponses;
use pod_alexa::directives::DirectiveClient;
use pod_domain::{CodeCheck, CodeDigest, CustomerId, Destination};
use pod_ports::{
    CodePurpose, MockProgressiveSpeech, OneTimeCode, ProgressiveSpeech, SpeechError, SpeechTarget,
};
use tokio::sync::{mpsc, oneshot};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

const API_TOKEN: &str = "api-access-token-of-this-request";
const REQUEST_ID: &str = "amzn1.echo-api.request.test";
const ONE_MOMENT: &str = "<speak>One moment while I send your code.</speak>";

/// Codes whose delivery waits until the test opens the gate: an order step
/// that is slow for exactly as long as the test wants.
struct GatedCodes {
    gate: Mutex<Option<oneshot::Receiver<()>>>,
}

impl GatedCodes {
    fn new() -> (Arc<Self>, oneshot::Sender<()>) {
        let (open, gate) = oneshot::channel();
        let codes = GatedCodes {
            gate: Mutex::new(Some(gate)),
        };
        (Arc::new(codes), open)
    }
}

#[async_trait]
impl OneTimeCodes for GatedCodes {
    fn issue(&self, _: &CustomerId, _: &CodePurpose) -> NewCode {
        NewCode {
            digest: Some(CodeDigest::new(CODE.as_bytes().to_vec())),
            code: OneTimeCode::parse(CODE).ok(),
        }
    }

    async fn deliver(
        &self,
        _: &CustomerId,
        _: &Destination,
        _: &CodePurpose,
        _: &NewCode,
    ) -> Result<(), CodeError> {
        let gate = self.gate.lock().unwrap().take();
        if let Some(gate) = gate {
            gate.await.ok();
        }
        Ok(())
    }

    async fn check(
        &self,
        _: &CustomerId,
        _: &Destination,
        _: &CodePurpose,
        _: Option<CodeDigest>,
        _: &OneTimeCode,
    ) -> Result<CodeCheck, CodeError> {
        Ok(CodeCheck::Invalid)
    }
}

/// The real directive client, reporting each outcome to the test.
struct Reporting {
    inner: DirectiveClient,
    outcomes: mpsc::UnboundedSender<Result<(), SpeechError>>,
}

#[async_trait]
impl ProgressiveSpeech for Reporting {
    async fn speak(&self, target: &SpeechTarget, ssml: &str) -> Result<(), SpeechError> {
        let outcome = self.inner.speak(target, ssml).await;
        self.outcomes.send(outcome.clone()).ok();
        outcome
    }
}

/// The order envelope with the request's API endpoint and token.
fn order_with_api(env: &Env, api_endpoint: &str) -> Value {
    let mut envelope = envelope(env.now(), Some(&env.demo), order());
    envelope["context"]["System"]["apiEndpoint"] = json!(api_endpoint);
    envelope["context"]["System"]["apiAccessToken"] = json!(API_TOKEN);
    // One order per test and store: a fixed id the directive must carry.
    envelope["request"]["requestId"] = json!(REQUEST_ID);
    envelope
}

/// Posts `envelope` to `/alexa` on a task of its own.
fn post(env: &Env, envelope: &Value) -> tokio::task::JoinHandle<(StatusCode, Value)> {
    let request = Request::post("/alexa")
        .header("content-type", "application/json")
        .body(Body::from(envelope.to_string()))
        .unwrap();
    let router = env.router.clone();
    tokio::spawn(async move {
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, json_of(&body))
    })
}

/// The normal answer to an order from `demo`: the code went by email.
fn assert_order_received(status: StatusCode, answer: &Value) {
    assert_eq!(status, StatusCode::OK, "{answer}");
    check_response(answer);
    assert_eq!(answer["response"]["outputSpeech"]["text"], RECEIVED_EMAIL);
    assert_eq!(answer["response"]["shouldEndSession"], false);
    assert_eq!(answer["response"]["card"]["title"], "Pizza order received");
}

/// Waits until `/metrics` counts one progressive response with `outcome`
/// (the spawned directive counts it after the answer may have gone).
async fn counted(env: &Env, outcome: &str) {
    let line = format!("pod_alexa_progressive_responses_total{{outcome=\"{outcome}\"}} 1");
    let counted = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if env.get("/metrics").await.1.contains(&line) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(counted.is_ok(), "{line} never appeared");
}

/// One slow order against a fake directive service answering `reply`: the
/// outcome the directive client reported, and what the fake received, once
/// the metrics counted the progressive response as `outcome`.
async fn slow_order_against(
    reply: ResponseTemplate,
    client_timeout: Duration,
    api_endpoint: Option<&str>,
    outcome: &str,
) -> (Result<(), SpeechError>, Vec<wiremock::Request>) {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/directives"))
        .respond_with(reply)
        .mount(&fake)
        .await;
    let (outcomes, mut reported) = mpsc::unbounded_channel();
    let client = DirectiveClient::new(client_timeout)
        .unwrap()
        .with_test_endpoint(&fake.uri())
        .unwrap();
    let speech = Arc::new(Reporting {
        inner: client,
        outcomes,
    });
    let (codes, open) = GatedCodes::new();
    let env = Env::with(Overrides {
        codes: Some(codes),
        progressive: Some(ProgressiveResponses::new(
            speech,
            Duration::from_millis(1),
            Duration::from_secs(30),
        )),
        ..Overrides::default()
    })
    .await;
    let api_endpoint = api_endpoint.map_or_else(|| fake.uri(), str::to_owned);
    let answer = post(&env, &order_with_api(&env, &api_endpoint));
    // The order waits for its code to go out; the directive goes meanwhile.
    let expected = outcome;
    let reported = reported.recv().await.expect("the directive was tried");
    open.send(()).unwrap();
    let (status, answer) = answer.await.unwrap();
    assert_order_received(status, &answer);
    counted(&env, expected).await;
    (reported, fake.received_requests().await.unwrap_or_default())
}

#[tokio::test]
async fn a_slow_order_says_one_moment_through_the_directive_service() {
    let (outcome, received) = slow_order_against(
        ResponseTemplate::new(204),
        Duration::from_secs(5),
        None,
        "sent",
    )
    .await;
    assert_eq!(outcome, Ok(()));
    assert_eq!(received.len(), 1);
    let directive = &received[0];
    assert_eq!(
        directive.headers.get("authorization").unwrap(),
        &format!("Bearer {API_TOKEN}")
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&directive.body).unwrap(),
        json!({
            "header": {"requestId": REQUEST_ID},
            "directive": {"type": "VoicePlayer.Speak", "speech": ONE_MOMENT}
        })
    );
}

#[tokio::test]
async fn a_refusing_directive_service_does_not_change_the_answer() {
    for status in [400, 401, 403, 429] {
        let (outcome, received) = slow_order_against(
            ResponseTemplate::new(status),
            Duration::from_secs(5),
            None,
            "rejected",
        )
        .await;
        assert_eq!(outcome, Err(SpeechError::Status(status)));
        assert_eq!(received.len(), 1);
    }
}

#[tokio::test]
async fn a_failing_directive_service_does_not_change_the_answer() {
    for status in [500, 503] {
        let (outcome, _) = slow_order_against(
            ResponseTemplate::new(status),
            Duration::from_secs(5),
            None,
            "failed",
        )
        .await;
        assert_eq!(outcome, Err(SpeechError::Status(status)));
    }
}

#[tokio::test]
async fn a_directive_service_slower_than_the_timeout_does_not_change_the_answer() {
    let slow = ResponseTemplate::new(204).set_delay(Duration::from_secs(30));
    let (outcome, received) =
        slow_order_against(slow, Duration::from_millis(200), None, "unavailable").await;
    assert!(
        matches!(outcome, Err(SpeechError::Unavailable(ref why)) if why == "timed out"),
        "{outcome:?}"
    );
    assert_eq!(received.len(), 1);
}

#[tokio::test]
async fn a_forged_api_endpoint_gets_no_token() {
    for forged in [
        "https://evil.example",
        "http://api.amazonalexa.com",
        "https://api.amazonalexa.com.evil.example",
    ] {
        let (outcome, received) = slow_order_against(
            ResponseTemplate::new(204),
            Duration::from_secs(5),
            Some(forged),
            "endpoint_refused",
        )
        .await;
        assert!(
            matches!(outcome, Err(SpeechError::EndpointRefused(_))),
            "{forged}: {outcome:?}"
        );
        assert!(received.is_empty(), "{forged}");
    }
}

/// A directive service that never answers, and a timeout of an hour: the
/// answer still comes, so it never waits for the directive.
#[tokio::test]
async fn the_answer_never_waits_for_the_directive() {
    struct Hanging(Mutex<Option<oneshot::Sender<SpeechTarget>>>);
    #[async_trait]
    impl ProgressiveSpeech for Hanging {
        async fn speak(&self, target: &SpeechTarget, _: &str) -> Result<(), SpeechError> {
            let started = self.0.lock().unwrap().take();
            if let Some(started) = started {
                started.send(target.clone()).ok();
            }
            std::future::pending().await
        }
    }
    let (started, speaking) = oneshot::channel();
    let (codes, open) = GatedCodes::new();
    let env = Env::with(Overrides {
        codes: Some(codes),
        progressive: Some(ProgressiveResponses::new(
            Arc::new(Hanging(Mutex::new(Some(started)))),
            Duration::from_millis(1),
            Duration::from_secs(3600),
        )),
        ..Overrides::default()
    })
    .await;
    let answer = post(&env, &order_with_api(&env, "https://api.amazonalexa.com"));
    let target = speaking.await.unwrap();
    assert_eq!(target.request_id, REQUEST_ID);
    assert_eq!(target.api_access_token, API_TOKEN);
    open.send(()).unwrap();
    let (status, answer) = answer.await.unwrap();
    assert_order_received(status, &answer);
}

/// An order step that finishes before the threshold sends nothing; nor does
/// a request without an API access token, or any request but an order.
#[tokio::test]
async fn a_fast_order_sends_no_directive() {
    let mut speech = MockProgressiveSpeech::new();
    speech.expect_speak().never();
    let env = Env::with(Overrides {
        progressive: Some(ProgressiveResponses::new(
            Arc::new(speech),
            Duration::from_secs(3600),
            Duration::from_secs(1),
        )),
        ..Overrides::default()
    })
    .await;
    let (status, answer) = env
        .alexa(&order_with_api(&env, "https://api.amazonalexa.com"))
        .await;
    assert_order_received(status, &answer);

    let mut speech = MockProgressiveSpeech::new();
    speech.expect_speak().never();
    let (codes, open) = GatedCodes::new();
    let env = Env::with(Overrides {
        codes: Some(codes),
        progressive: Some(ProgressiveResponses::new(
            Arc::new(speech),
            Duration::ZERO,
            Duration::from_secs(1),
        )),
        ..Overrides::default()
    })
    .await;
    open.send(()).unwrap();
    let no_token = envelope(env.now(), Some(&env.demo), order());
    let (status, answer) = env.alexa(&no_token).await;
    assert_order_received(status, &answer);
    let mut with_api = order_with_api(&env, "https://api.amazonalexa.com");
    with_api["request"] = envelope(env.now(), Some(&env.demo), launch())["request"].clone();
    let (status, answer) = env.alexa(&with_api).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["response"]["outputSpeech"]["text"], WELCOME);
}

#[tokio::test]
async fn german_requests_hear_german() {
    let (outcomes, mut reported) = mpsc::unbounded_channel();
    struct Said(mpsc::UnboundedSender<String>);
    #[async_trait]
    impl ProgressiveSpeech for Said {
        async fn speak(&self, _: &SpeechTarget, ssml: &str) -> Result<(), SpeechError> {
            self.0.send(ssml.to_owned()).ok();
            Ok(())
        }
    }
    let (codes, open) = GatedCodes::new();
    let env = Env::with(Overrides {
        codes: Some(codes),
        progressive: Some(ProgressiveResponses::new(
            Arc::new(Said(outcomes)),
            Duration::from_millis(1),
            Duration::from_secs(1),
        )),
        ..Overrides::default()
    })
    .await;
    let mut german = order_with_api(&env, "https://api.eu.amazonalexa.com");
    german["request"]["locale"] = json!("de-DE");
    german["request"]["intent"]["slots"]["Size"]["value"] = json!("groß");
    german["request"]["intent"]["slots"]["Toppings"]["value"] = json!("Salami");
    let answer = post(&env, &german);
    assert_eq!(
        reported.recv().await.unwrap(),
        "<speak>Einen Moment, ich schicke dir deinen Code.</speak>"
    );
    open.send(()).unwrap();
    let (status, answer) = answer.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(
        answer["response"]["outputSpeech"]["text"]
            .as_str()
            .unwrap()
            .contains("Code"),
        "{answer}"
    );
}

/// Whatever happens to the directive, its log lines never carry the API
/// access token.
#[tokio::test]
async fn the_api_access_token_is_never_logged() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _scoped = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    let (rejected, _) = slow_order_against(
        ResponseTemplate::new(401),
        Duration::from_secs(5),
        None,
        "rejected",
    )
    .await;
    assert_eq!(rejected, Err(SpeechError::Status(401)));
    let (refused, _) = slow_order_against(
        ResponseTemplate::new(204),
        Duration::from_secs(5),
        Some("https://evil.example"),
        "endpoint_refused",
    )
    .await;
    assert!(matches!(refused, Err(SpeechError::EndpointRefused(_))));
    // Both outcomes were counted (`slow_order_against` waits for that), so
    // both log lines were written. Whether this thread's subscriber saw
    // them depends on what other tests of this binary did first with
    // tracing's callsite cache, so only the absence of the token is
    // asserted.
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(!text.contains(API_TOKEN), "{text}");
}
