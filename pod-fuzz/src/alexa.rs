//! `POST /alexa` through the whole router.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request};
use pod_alexa::envelope::{MAX_SPEECH_CHARS, OutputSpeech, RequestEnvelope, ResponseEnvelope};
use pod_alexa::verify::{RequestVerifier, VerifierConfig, format_iso8601, parse_iso8601};
use pod_ports::Clock;

use crate::harness::{Env, Reply, base_now, dev_keys, runtime};

/// The most requests one `alexa_signed` input sends.
const MAX_STEPS: usize = 4;

fn dev_verifier() -> RequestVerifier {
    RequestVerifier::new(VerifierConfig::new(dev_keys().dev_mode())).expect("a dev verifier")
}

/// Raw headers and body, with signature checks on (development keys made
/// for this process, so no input can carry a valid signature).
///
/// Input: header lines `Name: value` up to the first empty line, then the
/// body bytes. Lines that are no header are skipped.
///
/// Invariants: no panic, no 5xx, never accepted, and the store unchanged.
pub fn alexa_raw(data: &[u8]) {
    let (head, body) = match find(data, b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (&b""[..], data),
    };
    let mut request = Request::post("/alexa");
    for line in head.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = HeaderName::from_bytes(line[..colon].trim_ascii());
        let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) = (name, value) {
            request = request.header(name, value);
        }
    }
    let request = request
        .body(Body::from(body.to_vec()))
        .expect("valid names and values make a valid request");
    runtime().block_on(async {
        let env = Env::new(dev_verifier(), false).await;
        let before = env.snapshot().await;
        let reply = env.send(request).await;
        assert!(
            !reply.status.is_success() && !reply.status.is_server_error(),
            "an unsigned request answered {}",
            reply.status
        );
        assert_eq!(
            env.snapshot().await,
            before,
            "a refused request changed the store"
        );
    });
}

/// Bodies signed with the development keys, so the skill is reached: up to
/// four requests, separated by a line `--`, sent one after the other to one
/// store. Before signing, `$NOW` becomes the clock's time and
/// `$DEMO_TOKEN` / `$SAM_TOKEN` valid access tokens of the two users; the
/// clock is then set to the body's `request.timestamp` when it has one.
///
/// Invariants: no panic, no 5xx; a 200 is a response envelope that
/// round-trips, with speech under Alexa's limit; a 400 changes nothing;
/// any body that parses as a request envelope round-trips.
pub fn alexa_signed(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    runtime().block_on(async {
        let env = Env::new(dev_verifier(), false).await;
        for step in crate::steps(&text, MAX_STEPS) {
            let body = step
                .replace("$NOW", &format_iso8601(env.clock.now()))
                .replace("$DEMO_TOKEN", &env.token(&env.demo))
                .replace("$SAM_TOKEN", &env.token(&env.sam));
            let parsed = serde_json::from_str::<RequestEnvelope>(&body);
            if let Ok(envelope) = &parsed {
                envelope_round_trips(envelope);
            }
            env.clock.set(timestamp_of(&body).unwrap_or(base_now()));
            let request = Request::post("/alexa")
                .header("content-type", "application/json")
                .header("signaturecertchainurl", dev_keys().chain_url())
                .header("signature-256", dev_keys().sign(body.as_bytes()))
                .body(Body::from(body))
                .expect("a valid request");
            let before = env.snapshot().await;
            let reply = env.send(request).await;
            match reply.status.as_u16() {
                200 => {
                    assert!(parsed.is_ok(), "answered a body that is no envelope");
                    answer_is_well_formed(&reply);
                }
                // 409: the request id was answered already for other bytes
                // (replay protection); refused like a 400.
                400 | 409 => assert_eq!(
                    env.snapshot().await,
                    before,
                    "a refused request changed the store"
                ),
                other => panic!("/alexa answered {other}"),
            }
        }
    });
}

/// `request.timestamp`, read leniently.
fn timestamp_of(body: &str) -> Option<pod_domain::Timestamp> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    parse_iso8601(value.get("request")?.get("timestamp")?.as_str()?)
}

fn envelope_round_trips(envelope: &RequestEnvelope) {
    let json = serde_json::to_string(envelope).expect("an envelope serialises");
    let again: RequestEnvelope =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json} does not parse back: {e}"));
    assert_eq!(&again, envelope, "the envelope changed on a round trip");
}

fn answer_is_well_formed(reply: &Reply) {
    let answer: ResponseEnvelope = serde_json::from_slice(&reply.body).unwrap_or_else(|e| {
        panic!(
            "a 200 that is no response envelope ({e}): {}",
            String::from_utf8_lossy(&reply.body)
        )
    });
    assert_eq!(answer.version, "1.0");
    let json = serde_json::to_vec(&answer).expect("a response serialises");
    let again: ResponseEnvelope = serde_json::from_slice(&json).expect("parses back");
    assert_eq!(again, answer, "the response changed on a round trip");
    let response = &answer.response;
    let speeches = [
        response.output_speech.as_ref(),
        response.reprompt.as_ref().map(|r| &r.output_speech),
    ];
    for speech in speeches.into_iter().flatten() {
        let text = match speech {
            OutputSpeech::PlainText { text } => text,
            OutputSpeech::Ssml { ssml } => ssml,
        };
        assert!(
            text.chars().count() <= MAX_SPEECH_CHARS + 100,
            "speech of {} characters",
            text.chars().count()
        );
    }
    if response.output_speech.is_some() {
        assert!(
            response.should_end_session.is_some(),
            "speech without shouldEndSession"
        );
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
