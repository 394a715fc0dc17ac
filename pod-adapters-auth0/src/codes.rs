//! [`Auth0Codes`]: one-time codes through Auth0 passwordless.

use std::sync::Arc;

use async_trait::async_trait;
use pod_domain::{Channel, CodeCheck, CodeDigest, CustomerId, Destination};
use pod_ports::{CodeError, CodePurpose, NewCode, OneTimeCode, OneTimeCodes};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use tracing::{info, warn};

use crate::config::Auth0Config;
use crate::http::{Retry, Upstream, UpstreamError};
use crate::jwt::{Verifier, VerifyError};

/// The grant type of Auth0's passwordless OTP exchange.
pub const OTP_GRANT: &str = "http://auth0.com/oauth/grant-type/passwordless/otp";

#[derive(Deserialize)]
struct OtpAnswer {
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct IdClaims {
    sub: String,
}

/// Sends codes with `POST /passwordless/start` and checks them with the
/// passwordless OTP grant on `POST /oauth/token`, verifying the returned id
/// token (configured algorithm, `iss`, `aud` = client id, `exp`) and that
/// its `sub` is the customer.
///
/// Auth0 keeps one code per connection and address, so the purpose of a
/// code is pod's business: the ordering service never checks a code for a
/// purpose other than the one it sent. Auth0's own limits (3 attempts,
/// 180 s lifetime, 50 starts per hour per IP) apply besides pod's policy.
///
/// # Linked identities and `sub`
/// Before a code is sent, [`crate::Auth0Directory`] links a passwordless
/// identity (`sms|…` or `email|…`) to the customer's primary user. Auth0
/// then signs in the primary user when that identity logs in, so the id
/// token's `sub` is the customer's id. A code that verifies for any other
/// `sub` (the identity is not linked, or linked to someone else) counts as
/// a wrong code: it does not prove that the customer has the phone.
pub struct Auth0Codes {
    config: Arc<Auth0Config>,
    passwordless: Upstream,
    token: Upstream,
    id_tokens: Arc<Verifier>,
}

impl std::fmt::Debug for Auth0Codes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth0Codes")
            .field("domain", &self.config.domain)
            .finish_non_exhaustive()
    }
}

fn code_error(e: UpstreamError) -> CodeError {
    match e {
        UpstreamError::RateLimited => CodeError::RateLimited,
        other => CodeError::Unavailable(other.to_string()),
    }
}

impl Auth0Codes {
    pub(crate) fn new(
        config: Arc<Auth0Config>,
        passwordless: Upstream,
        token: Upstream,
        id_tokens: Arc<Verifier>,
    ) -> Self {
        Auth0Codes {
            config,
            passwordless,
            token,
            id_tokens,
        }
    }
}

/// What Auth0's refusal of a code means.
fn refusal(description: &str) -> CodeCheck {
    let d = description.to_ascii_lowercase();
    if d.contains("maximum number of attempts") {
        CodeCheck::Locked
    } else if d.contains("expired") {
        CodeCheck::Expired
    } else {
        // "Wrong email or verification code." / "Wrong phone number or
        // verification code." and any other refusal of the grant.
        CodeCheck::Invalid
    }
}

#[async_trait]
impl OneTimeCodes for Auth0Codes {
    fn issue(&self, _customer: &CustomerId, _purpose: &CodePurpose) -> NewCode {
        // Auth0 draws, keeps and checks its own codes.
        NewCode {
            digest: None,
            code: None,
        }
    }

    async fn deliver(
        &self,
        customer: &CustomerId,
        destination: &Destination,
        _purpose: &CodePurpose,
        _code: &NewCode,
    ) -> Result<(), CodeError> {
        let config = &self.config;
        let connection = destination.channel().as_str();
        let address_field = match destination.channel() {
            Channel::Sms => "phone_number",
            Channel::Email => "email",
        };
        let body = json!({
            "client_id": config.client_id,
            "client_secret": config.client_secret.expose_secret(),
            "connection": connection,
            address_field: destination.address(),
            "send": "code",
        });
        let url = config.endpoint("passwordless/start");
        let reply = self
            .passwordless
            .send("passwordless start", Retry::Unsafe, |c| {
                c.post(url.clone()).json(&body)
            })
            .await
            .map_err(code_error)?;
        match reply.status {
            s if s.is_success() => {
                info!(customer = %customer, to = %destination.masked(), "code sent through Auth0");
                Ok(())
            }
            StatusCode::BAD_REQUEST => Err(CodeError::DeliveryFailed(reply.summary())),
            _ => Err(CodeError::Unavailable(reply.summary())),
        }
    }

    async fn check(
        &self,
        customer: &CustomerId,
        destination: &Destination,
        _purpose: &CodePurpose,
        _digest: Option<CodeDigest>,
        code: &OneTimeCode,
    ) -> Result<CodeCheck, CodeError> {
        let config = &self.config;
        let realm = destination.channel().as_str();
        let url = config.endpoint("oauth/token");
        let reply = self
            .token
            .send("otp grant", Retry::Unsafe, |c| {
                c.post(url.clone()).form(&[
                    ("grant_type", OTP_GRANT),
                    ("client_id", config.client_id.as_str()),
                    ("client_secret", config.client_secret.expose_secret()),
                    ("realm", realm),
                    ("username", destination.address()),
                    ("otp", code.expose()),
                    ("scope", "openid"),
                ])
            })
            .await
            .map_err(code_error)?;
        if reply.status.is_success() {
            let answer: OtpAnswer = reply.json().map_err(code_error)?;
            let id_token = answer
                .id_token
                .ok_or_else(|| CodeError::Unavailable("Auth0 returned no id token".into()))?;
            let claims: IdClaims = self
                .id_tokens
                .verify(&id_token)
                .await
                .map_err(|e| match e {
                    VerifyError::Invalid(reason) => {
                        warn!(%reason, "Auth0 id token rejected");
                        CodeError::Unavailable(format!("id token rejected: {reason}"))
                    }
                    VerifyError::Unavailable(reason) => CodeError::Unavailable(reason),
                })?;
            if claims.sub != customer.as_str() {
                warn!(customer = %customer, "code verified for another identity; counted as wrong");
                return Ok(CodeCheck::Invalid);
            }
            return Ok(CodeCheck::Valid);
        }
        let body = reply.error_body();
        match (reply.status, body.error.as_deref()) {
            (StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST, Some("invalid_grant")) => {
                let check = refusal(body.error_description.as_deref().unwrap_or_default());
                info!(customer = %customer, ?check, "Auth0 refused the code");
                Ok(check)
            }
            _ => Err(CodeError::Unavailable(reply.summary())),
        }
    }
}
