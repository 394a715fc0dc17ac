//! The embedded identity's access tokens (HS256 JWTs), as `/api` and the
//! skill check them.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pod_adapters_local::{
    DEFAULT_AUDIENCE, LOCAL_ISSUER, LocalAccessTokens, LocalTokenConfig, LocalTokenKey,
};
use pod_domain::Timestamp;
use pod_ports::testing::ManualClock;
use pod_ports::{AccessTokens, TokenError};
use serde::Deserialize;
use serde_json::Value;

use crate::harness::{TOKEN_KEY, runtime};

/// The clock's time: fixed, so that a corpus replays the same way any day.
const NOW_SECONDS: i64 = 1_800_000_000;

/// Input: a first byte, then
/// - if the byte is even: the token itself, as it would come after
///   `Bearer ` (bad signatures, malformed tokens);
/// - if it is odd: a JOSE header (JSON) and a line break then the claims
///   (JSON), or the claims alone under `{"alg":"HS256","typ":"JWT"}`,
///   signed with the right key, so that every check after the signature
///   is reached (algorithm, issuer, audience, expiry, not-before, subject).
///
/// Invariants: no panic; an unsigned token never passes; a signed one
/// passes only with algorithm HS256, issuer `pod-local`, audience `pod`, an
/// `exp` not yet past and a `sub` equal to the customer returned; a token
/// issued for that customer passes as the same customer.
pub fn access_token(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = LocalTokenKey::from_bytes(&TOKEN_KEY).expect("a 32-byte key");
    let now = Timestamp::from_unix_millis(NOW_SECONDS * 1000);
    let tokens = LocalAccessTokens::new(
        &key,
        LocalTokenConfig::default(),
        ManualClock::starting_at(now),
    );
    let tokens = Arc::new(tokens);
    runtime().block_on(async {
        if mode % 2 == 0 {
            let token = String::from_utf8_lossy(rest);
            match tokens.customer_for_token(&token).await {
                Err(TokenError::Invalid(_)) => {}
                other => panic!("an unsigned token gave {other:?}"),
            }
            return;
        }
        let (header, claims) = match rest.iter().position(|b| *b == b'\n') {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (&br#"{"alg":"HS256","typ":"JWT"}"#[..], rest),
        };
        let token = signed(header, claims);
        let Ok(customer) = tokens.customer_for_token(&token).await else {
            return;
        };
        // Read as jsonwebtoken reads them: fields pod does not know are
        // skipped (serde_json does not check the UTF-8 of what it skips).
        let header: SeenHeader = serde_json::from_slice(header).expect("an accepted header");
        assert_eq!(header.alg, "HS256", "accepted with alg {}", header.alg);
        let claims: SeenClaims = serde_json::from_slice(claims).expect("accepted claims");
        assert_eq!(claims.iss, LOCAL_ISSUER, "accepted from {}", claims.iss);
        assert_eq!(claims.sub, customer.as_str(), "accepted as {}", claims.sub);
        let audience_ok = match &claims.aud {
            Value::String(aud) => aud == DEFAULT_AUDIENCE,
            Value::Array(auds) => auds.iter().any(|a| a == DEFAULT_AUDIENCE),
            _ => false,
        };
        assert!(audience_ok, "accepted for {}", claims.aud);
        let exp = claims.exp.as_i64().or_else(|| {
            // jsonwebtoken also takes whole floats.
            claims.exp.as_f64().map(|f| f as i64)
        });
        assert!(
            exp.is_some_and(|exp| exp.saturating_add(30) > NOW_SECONDS),
            "accepted until {}",
            claims.exp
        );
        let again = tokens.issue(&customer, Duration::from_secs(60), now);
        assert_eq!(
            tokens.customer_for_token(&again).await.as_ref(),
            Ok(&customer),
            "a token issued for {customer} does not pass"
        );
    });
}

/// What the invariants read of an accepted token's header.
#[derive(Deserialize)]
struct SeenHeader {
    alg: String,
}

/// What the invariants read of an accepted token's claims.
#[derive(Deserialize)]
struct SeenClaims {
    iss: String,
    aud: Value,
    sub: String,
    exp: Value,
}

/// `header.claims.signature` with the right key.
fn signed(header: &[u8], claims: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, &TOKEN_KEY);
    let tag = hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}
