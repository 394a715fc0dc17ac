//! `/api` request bodies, through the whole router.

use axum::body::Body;
use axum::http::Request;
use pod_alexa::verify::{RequestVerifier, VerifierConfig, VerifyMode};
use serde_json::{Value, json};

use crate::harness::{Env, runtime};

/// Error codes that say the request itself was malformed: such a request
/// must change nothing.
const MALFORMED: &[&str] = &[
    "invalid_json",
    "unsupported_media_type",
    "payload_too_large",
    "unknown_size",
    "unknown_topping",
    "too_many_toppings",
    "invalid_code_format",
    "unauthorized",
];

/// Input: a first byte, then the body. The byte's low two bits choose the
/// endpoint (`POST /api/orders`, `POST /api/orders/confirm`, the original
/// `POST /api/authorize/{code}` with the rest as the code, percent-encoded,
/// or `POST /api/orders` without a JSON content type); bit 2 places a valid
/// order first (so that a code has something to confirm); bit 3 sends as
/// `sam` (who has a phone) rather than `demo`; bit 4 sends no token.
///
/// Invariants: no panic, no 5xx, every answer is JSON, every error has a
/// stable code, and a request refused as malformed changes nothing.
pub fn api(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    runtime().block_on(async {
        let env = Env::new(off(), false).await;
        let customer = if selector & 8 == 0 {
            &env.demo
        } else {
            &env.sam
        };
        let token = env.token(customer);
        if selector & 4 != 0 {
            let order = json!({"size": "large", "toppings": ["ham"]}).to_string();
            let placed = env
                .send(post("/api/orders", Some(&token), true, order.into_bytes()))
                .await;
            assert_eq!(
                placed.status.as_u16(),
                201,
                "the valid order was not placed"
            );
        }
        let token = (selector & 16 == 0).then_some(token.as_str());
        let request = match selector & 3 {
            0 => post("/api/orders", token, true, body.to_vec()),
            1 => post("/api/orders/confirm", token, true, body.to_vec()),
            2 => post(
                &format!("/api/authorize/{}", percent_encoded(body)),
                token,
                false,
                Vec::new(),
            ),
            _ => post("/api/orders", token, false, body.to_vec()),
        };
        let before = env.snapshot().await;
        let reply = env.send(request).await;
        assert!(
            !reply.status.is_server_error(),
            "/api answered {}",
            reply.status
        );
        let answer: Value = serde_json::from_slice(&reply.body).unwrap_or_else(|_| {
            panic!(
                "/api answered {} with no JSON: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            )
        });
        if reply.status.is_client_error() {
            let Some(code) = answer["error"].as_str() else {
                panic!("an error without a code: {answer}");
            };
            assert!(
                !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "unstable error code {code:?}"
            );
            if MALFORMED.contains(&code) {
                assert_eq!(
                    env.snapshot().await,
                    before,
                    "a request refused as {code} changed the store"
                );
            }
        }
    });
}

fn off() -> RequestVerifier {
    RequestVerifier::new(VerifierConfig::new(VerifyMode::Off)).expect("a verifier")
}

fn post(path: &str, token: Option<&str>, json: bool, body: Vec<u8>) -> Request<Body> {
    let mut request = Request::post(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if json {
        request = request.header("content-type", "application/json");
    }
    request.body(Body::from(body)).expect("a valid request")
}

/// Every byte but ASCII letters and digits as `%XX`.
fn percent_encoded(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (*b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
