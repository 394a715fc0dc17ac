//! Codes handed to the operator's own service: a signed JSON POST.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::hmac;
use pod_domain::Channel;
use pod_ports::{Clock, CodePurpose};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tracing::{error, info};

use super::http::{self, DeliveryBudget, Verdict, checked_url};
use super::{CodeDelivery, CodeMessage, DeliveryError, code_text};

/// The header with the delivery id, the same on every attempt of one code.
pub const WEBHOOK_DELIVERY_ID_HEADER: &str = "pod-delivery-id";
/// The header with the attempt's time, Unix seconds.
pub const WEBHOOK_TIMESTAMP_HEADER: &str = "pod-timestamp";
/// The header with the signature, `v1=<hex HMAC-SHA256>`.
pub const WEBHOOK_SIGNATURE_HEADER: &str = "pod-signature";

/// The shortest secret accepted, in bytes.
const MIN_SECRET_BYTES: usize = 16;

/// The JSON body of a webhook delivery (one object, UTF-8):
///
/// ```json
/// {"id":"5f0c…","channel":"sms","to":"+15550100123","code":"0421",
///  "purpose":"order","order_id":"1b4e…","message":"Your pod code is 0421. …",
///  "issued_at":"2025-01-02T03:04:05.678Z","expires_at":"2025-01-02T03:09:05.678Z"}
/// ```
///
/// `id` is the delivery id (a UUID, also in the `Pod-Delivery-Id` header),
/// the same on every attempt to deliver this code: a receiver that has
/// seen it already answers 2xx and sends nothing. `channel` is `sms` or
/// `email`; `to` the phone number (E.164) or email address; `purpose`
/// `order` or `sign_in`; `order_id` is `null` for a sign-in code;
/// `message` is a ready text for the person (it contains the code); times
/// are RFC 3339 UTC with milliseconds. Receivers should ignore fields they
/// do not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPayload {
    /// The delivery id.
    pub id: String,
    /// `sms` or `email`.
    pub channel: String,
    /// Phone number or email address.
    pub to: String,
    /// The code.
    pub code: String,
    /// `order` or `sign_in`.
    pub purpose: String,
    /// The order the code confirms; `null` for a sign-in code.
    pub order_id: Option<String>,
    /// The text to send.
    pub message: String,
    /// When the code was issued.
    pub issued_at: String,
    /// When it stops verifying.
    pub expires_at: String,
}

/// `v1=` and the hex HMAC-SHA256, keyed with `secret`'s bytes, of
/// `timestamp`, `.` and the exact body bytes: the `Pod-Signature` header.
///
/// A receiver recomputes it over the raw body it got and compares in
/// constant time, and refuses a `Pod-Timestamp` more than a few minutes
/// from its clock (a replay).
pub fn webhook_signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    let mut hex = String::with_capacity(3 + 64);
    hex.push_str("v1=");
    for byte in tag.as_ref() {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// Settings of [`WebhookDelivery`].
#[derive(Clone)]
pub struct WebhookConfig {
    /// The receiver: `https://…` (plain `http` only on a loopback address).
    pub url: String,
    /// The signing secret, at least 16 bytes, used as given (its UTF-8 bytes).
    pub secret: SecretString,
    /// The channels it takes.
    pub channels: Vec<Channel>,
    /// Time limits and retries.
    pub budget: DeliveryBudget,
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("channels", &self.channels)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// Why a [`WebhookConfig`] is unusable. Messages never repeat the URL or
/// the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookConfigError {
    /// Not an `https` URL (or `http` on loopback).
    #[error("{0}")]
    Url(String),
    /// The secret is too short.
    #[error("the secret must be at least {MIN_SECRET_BYTES} bytes")]
    Secret,
    /// No channel.
    #[error("the webhook must take at least one channel")]
    NoChannel,
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
}

/// Hands codes to the operator's own service (an SMS or mail provider
/// pod has no adapter for): a JSON POST ([`WebhookPayload`]) with the
/// headers `Pod-Delivery-Id`, `Pod-Timestamp` (Unix seconds of the
/// attempt) and `Pod-Signature` ([`webhook_signature`]).
///
/// The receiver answers:
///
/// | answer | outcome |
/// |---|---|
/// | 2xx | delivered (taken, or already taken under this delivery id) |
/// | 422 | [`DeliveryError::Undeliverable`]: the address cannot be reached |
/// | 401, 403, 404, 405 | [`DeliveryError::Misconfigured`] (secret or URL), logged at error level |
/// | another 4xx | [`DeliveryError::Refused`] |
/// | 429, 503 | sent again within the budget ([`DeliveryBudget`]), same id and body, then [`DeliveryError::Unavailable`] |
/// | another 5xx | [`DeliveryError::Unavailable`], not sent again |
pub struct WebhookDelivery {
    client: reqwest::Client,
    url: reqwest::Url,
    secret: SecretString,
    channels: Vec<Channel>,
    budget: DeliveryBudget,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for WebhookDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookDelivery")
            .field("host", &self.url.host_str())
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl WebhookDelivery {
    /// Checks `config`; `clock` dates each attempt's signature.
    pub fn new(config: &WebhookConfig, clock: Arc<dyn Clock>) -> Result<Self, WebhookConfigError> {
        let url = checked_url(&config.url, "the webhook URL").map_err(WebhookConfigError::Url)?;
        if config.secret.expose_secret().len() < MIN_SECRET_BYTES {
            return Err(WebhookConfigError::Secret);
        }
        if config.channels.is_empty() {
            return Err(WebhookConfigError::NoChannel);
        }
        let client = config.budget.client().map_err(WebhookConfigError::Client)?;
        Ok(WebhookDelivery {
            client,
            url,
            secret: config.secret.clone(),
            channels: config.channels.clone(),
            budget: config.budget,
            clock,
        })
    }

    fn judge(&self, masked: &str, status: StatusCode, headers: &HeaderMap) -> Verdict {
        let what = format!("HTTP {}", status.as_u16());
        if status.is_success() {
            return Verdict::Delivered;
        }
        if http::refused_unaccepted(status) {
            return Verdict::Retry {
                after: http::retry_after(headers),
                error: DeliveryError::Unavailable(format!(
                    "the webhook did not take the code ({what})"
                )),
            };
        }
        match status {
            StatusCode::UNPROCESSABLE_ENTITY => Verdict::Fail(DeliveryError::Undeliverable(
                format!("the webhook cannot reach {masked} ({what})"),
            )),
            StatusCode::UNAUTHORIZED
            | StatusCode::FORBIDDEN
            | StatusCode::NOT_FOUND
            | StatusCode::METHOD_NOT_ALLOWED => {
                error!(
                    host = self.url.host_str().unwrap_or(""),
                    status = status.as_u16(),
                    "the webhook refused pod's request: check its URL and that both sides share the same secret; no code can be sent through it until it is fixed"
                );
                Verdict::Fail(DeliveryError::Misconfigured(format!(
                    "the webhook refused the URL or signature ({what})"
                )))
            }
            _ if status.is_client_error() => Verdict::Fail(DeliveryError::Refused(format!(
                "the webhook refused the code for {masked} ({what})"
            ))),
            _ => Verdict::Fail(DeliveryError::Unavailable(format!(
                "the webhook failed ({what}); not sent again, since it may have taken the code"
            ))),
        }
    }
}

#[async_trait]
impl CodeDelivery for WebhookDelivery {
    fn handles(&self, channel: Channel) -> bool {
        self.channels.contains(&channel)
    }

    async fn deliver(&self, message: &CodeMessage<'_>) -> Result<(), DeliveryError> {
        let masked = message.destination.masked();
        let channel = message.destination.channel();
        let id = uuid::Uuid::new_v4().to_string();
        let payload = WebhookPayload {
            id: id.clone(),
            channel: channel.as_str().to_owned(),
            to: message.destination.address().to_owned(),
            code: message.code.expose().to_owned(),
            purpose: message.purpose.kind().to_owned(),
            order_id: match message.purpose {
                CodePurpose::ConfirmOrder(id) => Some(id.as_str().to_owned()),
                CodePurpose::SignIn => None,
            },
            message: code_text(message),
            issued_at: message.at.to_rfc3339(),
            expires_at: message.expires_at.to_rfc3339(),
        };
        let body = serde_json::to_vec(&payload)
            .map_err(|e| DeliveryError::Message(format!("webhook body: {e}")))?;
        // Each attempt is signed at its own time; id and body stay the same.
        let request = || {
            let timestamp = self.clock.now().unix_millis().div_euclid(1000);
            let signature =
                webhook_signature(self.secret.expose_secret().as_bytes(), timestamp, &body);
            self.client
                .post(self.url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(WEBHOOK_DELIVERY_ID_HEADER, &id)
                .header(WEBHOOK_TIMESTAMP_HEADER, timestamp.to_string())
                .header(WEBHOOK_SIGNATURE_HEADER, signature)
                .body(body.clone())
        };
        let result = http::send_with_retries(
            &self.budget,
            "the webhook",
            request,
            |status, headers, _| self.judge(&masked, status, headers),
        )
        .await;
        match &result {
            Ok(()) => info!(
                to = %masked,
                channel = channel.as_str(),
                delivery = %id,
                "one-time code handed to the webhook"
            ),
            Err(error) => tracing::debug!(delivery = %id, %error, "webhook delivery failed"),
        }
        result
    }
}
