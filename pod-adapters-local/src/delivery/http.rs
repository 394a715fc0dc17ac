//! The retry rule shared by the HTTP deliveries (Twilio, webhook).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use tokio::time::Instant;

use super::DeliveryError;

/// How long one code's delivery may take, and how often a request that
/// certainly did not deliver it is sent again.
///
/// # Retries never send a code twice
///
/// A request is sent again only when it certainly did not reach the
/// provider, or the provider said it did not accept it:
///
/// - connecting failed (DNS, connection refused, connect timeout, TLS
///   handshake): nothing was sent;
/// - the provider answered `429 Too Many Requests` or `503 Service
///   Unavailable`: it refused the request, so nothing was sent. Its
///   `Retry-After` (seconds) is waited for when it fits the deadline;
///   otherwise the delivery gives up at once.
///
/// Everything else is final. In particular a timeout, or a connection
/// broken after the request was written, is *ambiguous*: the provider may
/// have sent the code, so it is never sent again
/// ([`DeliveryError::Ambiguous`]); neither is any other `5xx`, which may
/// follow a message the provider had already accepted.
///
/// At most [`retries`](DeliveryBudget::retries) more attempts are made,
/// [`backoff`](DeliveryBudget::backoff) apart (doubling), and all within
/// [`deadline`](DeliveryBudget::deadline), counted from the first attempt:
/// each attempt may take only what is left of it, and no retry starts that
/// could not connect before it. The default (4 s, 2 retries, 250 ms) keeps
/// a voice turn well inside Alexa's 8 seconds. The webhook sends the same
/// delivery id on every attempt, so a receiver can de-duplicate anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryBudget {
    /// The whole delivery, every attempt and wait included.
    pub deadline: Duration,
    /// Limit on connecting, per attempt.
    pub connect_timeout: Duration,
    /// Further attempts after the first, when the rule above allows them.
    pub retries: u32,
    /// The wait before the first retry; it doubles for each next one
    /// (a longer `Retry-After` wins).
    pub backoff: Duration,
}

impl Default for DeliveryBudget {
    fn default() -> Self {
        DeliveryBudget {
            deadline: Duration::from_secs(4),
            connect_timeout: Duration::from_secs(1),
            retries: 2,
            backoff: Duration::from_millis(250),
        }
    }
}

impl DeliveryBudget {
    /// An HTTP client for a delivery: no redirects (a code is never sent
    /// on to another address), pod's user agent, this connect timeout.
    pub(crate) fn client(&self) -> Result<reqwest::Client, String> {
        reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pod/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.without_url().to_string())
    }
}

/// What a provider's answer means for one attempt.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Accepted: the code is on its way.
    Delivered,
    /// Not accepted, and certainly not sent: may be sent again (after
    /// `after`, when the provider said so).
    Retry {
        after: Option<Duration>,
        error: DeliveryError,
    },
    /// Final.
    Fail(DeliveryError),
}

/// The `Retry-After` of a 429 or 503 as seconds (an HTTP date is ignored:
/// the backoff applies).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Whether `status` says the request was refused without being accepted.
pub(crate) fn refused_unaccepted(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
}

/// Sends `request()` (built afresh for each attempt) under `budget`, by
/// the rule of [`DeliveryBudget`], and lets `judge` read each answer.
/// `provider` names the peer in errors ("Twilio", "the webhook"); error
/// texts never carry the URL (it may hold a secret) nor the body.
pub(crate) async fn send_with_retries(
    budget: &DeliveryBudget,
    provider: &str,
    mut request: impl FnMut() -> reqwest::RequestBuilder,
    judge: impl Fn(StatusCode, &HeaderMap, &[u8]) -> Verdict,
) -> Result<(), DeliveryError> {
    let started = Instant::now();
    let deadline = started + budget.deadline;
    let mut attempt: u32 = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (after, error) = match request().timeout(left).send().await {
            Err(error) if error.is_connect() => (
                None,
                DeliveryError::Unavailable(format!(
                    "cannot connect to {provider}: {}",
                    describe(error)
                )),
            ),
            Err(error) if error.is_timeout() => {
                return Err(DeliveryError::Ambiguous(format!(
                    "{provider} did not answer within {} ms; the code may have been sent, so it is not sent again",
                    left.as_millis()
                )));
            }
            Err(error) => {
                return Err(DeliveryError::Ambiguous(format!(
                    "{provider}: the exchange broke after the request was sent ({}); the code may have been sent, so it is not sent again",
                    describe(error)
                )));
            }
            Ok(response) => {
                let status = response.status();
                let headers = response.headers().clone();
                // An accepted code whose answer cannot be read is still
                // accepted; a refusal without a readable body is judged by
                // its status alone.
                let body = response.bytes().await.unwrap_or_default();
                match judge(status, &headers, &body) {
                    Verdict::Delivered => return Ok(()),
                    Verdict::Fail(error) => return Err(error),
                    Verdict::Retry { after, error } => (after, error),
                }
            }
        };
        if attempt >= budget.retries {
            return Err(error);
        }
        let backoff = budget.backoff.saturating_mul(1 << attempt.min(16));
        let wait = after.map_or(backoff, |after| after.max(backoff));
        // Not retried when the wait and a connection would overrun the deadline.
        let room = deadline.saturating_duration_since(Instant::now());
        if wait.saturating_add(budget.connect_timeout) >= room {
            return Err(error);
        }
        tracing::debug!(%error, attempt, wait_ms = wait.as_millis() as u64, "{provider} did not take the code; trying again");
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// A reqwest error without its URL, with its causes.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An `http(s)` base URL without a trailing slash: `https`, or `http` to a
/// loopback host (a local fake or proxy), since credentials and codes go
/// over it. Used for the Twilio base URL and the webhook URL.
pub(crate) fn checked_url(raw: &str, what: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|_| format!("{what} is not a URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if loopback => {}
        "http" => {
            return Err(format!(
                "{what} must be https (plain http only to a loopback address)"
            ));
        }
        _ => return Err(format!("{what} must be an https URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{what} must not hold credentials"));
    }
    Ok(url)
}
