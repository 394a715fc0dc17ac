//! One way of calling Auth0: time budget, bounded retries with backoff,
//! rate-limit headers, size limits, and errors that never carry secrets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pod_domain::Timestamp;
use reqwest::{RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use crate::config::Auth0Config;

/// The largest answer read from Auth0.
const MAX_BODY: usize = 256 * 1024;
/// The longest pause a rate-limit header can impose.
const MAX_BLOCK: Duration = Duration::from_secs(120);

/// Whether a request may be sent again after it may have reached Auth0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Reads and token requests: retried after 5xx, timeouts and transport
    /// failures.
    Safe,
    /// Requests with effects (sending a code, checking a code, creating a
    /// user): retried after 5xx answers and failures to connect, never after
    /// a timeout, when the request may have been processed.
    Unsafe,
}

/// Why a call to Auth0 failed. Never contains tokens, secrets or codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UpstreamError {
    #[error("Auth0 is rate limiting")]
    RateLimited,
    #[error("Auth0 answered {status}")]
    ServerError { status: u16 },
    #[error("Auth0 did not answer in time")]
    Timeout,
    #[error("Auth0 could not be reached")]
    Transport,
    #[error("Auth0 answered nonsense: {0}")]
    Garbage(String),
}

/// An answer from Auth0 with a status below 500 other than 429.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
}

/// The error fields of an Auth0 error answer (Authentication API:
/// `error`/`error_description`; Management API: `error`/`message`/`errorCode`).
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub(crate) error: Option<String>,
    #[serde(default)]
    pub(crate) error_description: Option<String>,
    #[serde(default, rename = "errorCode")]
    pub(crate) error_code: Option<String>,
}

impl Reply {
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, UpstreamError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            UpstreamError::Garbage(format!("status {}: {}", self.status, e.classify_name()))
        })
    }

    pub(crate) fn error_body(&self) -> ErrorBody {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }

    /// `status error_code`, safe to log (no descriptions, which may echo input).
    pub(crate) fn summary(&self) -> String {
        let body = self.error_body();
        match body.error_code.or(body.error) {
            Some(code) => format!("Auth0 answered {} ({})", self.status.as_u16(), clip(&code)),
            None => format!("Auth0 answered {}", self.status.as_u16()),
        }
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable body",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "unexpected JSON",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

/// At most 64 printable characters of a peer's error code.
fn clip(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// Sends requests to one Auth0 API (one rate-limit bucket).
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    client: reqwest::Client,
    config: Arc<Auth0Config>,
    name: &'static str,
    blocked_until: Arc<Mutex<Option<Timestamp>>>,
}

impl Upstream {
    pub(crate) fn new(
        client: reqwest::Client,
        config: Arc<Auth0Config>,
        name: &'static str,
    ) -> Self {
        Upstream {
            client,
            config,
            name,
            blocked_until: Arc::new(Mutex::new(None)),
        }
    }

    fn blocked(&self, now: Timestamp) -> bool {
        let guard = self.blocked_until.lock().unwrap_or_else(|p| p.into_inner());
        guard.is_some_and(|until| now < until)
    }

    fn block_until(&self, until: Timestamp) {
        let mut guard = self.blocked_until.lock().unwrap_or_else(|p| p.into_inner());
        *guard = Some(guard.map_or(until, |old| old.max(until)));
    }

    /// Reads `x-ratelimit-remaining`/`x-ratelimit-reset` and `retry-after`:
    /// when the bucket is empty, further calls fail fast until it refills.
    fn note_rate_limit(&self, headers: &reqwest::header::HeaderMap, status: StatusCode) {
        let now = self.config.now();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        let remaining = header("x-ratelimit-remaining");
        let reset = header("x-ratelimit-reset").map(Timestamp::from_unix_seconds);
        let retry_after =
            header("retry-after").map(|s| now.plus(Duration::from_secs(s.clamp(0, 3600) as u64)));
        let exhausted = status == StatusCode::TOO_MANY_REQUESTS || remaining == Some(0);
        if !exhausted {
            return;
        }
        let until = retry_after
            .or(reset)
            .unwrap_or_else(|| now.plus(Duration::from_secs(1)))
            .min(now.plus(MAX_BLOCK));
        if until > now {
            warn!(
                api = self.name,
                wait_ms = until.since(now).as_millis() as u64,
                "Auth0 rate limit reached"
            );
            self.block_until(until);
        }
    }

    /// Sends the request `build` makes, retrying as `retry` allows within
    /// the configured budget. Answers below 500 (except 429) are returned
    /// for the caller to interpret.
    pub(crate) async fn send(
        &self,
        what: &'static str,
        retry: Retry,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Reply, UpstreamError> {
        let timeouts = self.config.timeouts;
        let started = tokio::time::Instant::now();
        let deadline = started + timeouts.budget;
        let mut attempt: u32 = 0;
        loop {
            if self.blocked(self.config.now()) {
                debug!(api = self.name, what, "skipped: rate limited");
                return Err(UpstreamError::RateLimited);
            }
            let now = tokio::time::Instant::now();
            let Some(left) = deadline
                .checked_duration_since(now)
                .filter(|d| !d.is_zero())
            else {
                return Err(UpstreamError::Timeout);
            };
            let request = build(&self.client).timeout(timeouts.request.min(left));
            // `processed`: the request may have had its effect at Auth0.
            let (failure, processed) = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    self.note_rate_limit(response.headers(), status);
                    debug!(
                        api = self.name,
                        what,
                        status = status.as_u16(),
                        attempt,
                        "Auth0 answered"
                    );
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        return Err(UpstreamError::RateLimited);
                    }
                    if status.is_server_error() {
                        (
                            UpstreamError::ServerError {
                                status: status.as_u16(),
                            },
                            false,
                        )
                    } else {
                        if response
                            .content_length()
                            .is_some_and(|len| len > MAX_BODY as u64)
                        {
                            return Err(UpstreamError::Garbage("answer too large".into()));
                        }
                        match response.bytes().await {
                            Ok(body) if body.len() <= MAX_BODY => {
                                return Ok(Reply {
                                    status,
                                    body: body.to_vec(),
                                });
                            }
                            Ok(_) => return Err(UpstreamError::Garbage("answer too large".into())),
                            Err(e) if e.is_timeout() => (UpstreamError::Timeout, true),
                            Err(_) => (UpstreamError::Transport, true),
                        }
                    }
                }
                Err(e) if e.is_connect() => (UpstreamError::Transport, false),
                Err(e) if e.is_timeout() => (UpstreamError::Timeout, true),
                Err(_) => (UpstreamError::Transport, true),
            };
            // A 5xx means Auth0 did not do it; a refused connection never
            // reached it. Anything else is retried only when repeating is
            // harmless.
            let retryable = !processed || retry == Retry::Safe;
            let pause = timeouts
                .backoff
                .saturating_mul(2u32.saturating_pow(attempt));
            let fits = tokio::time::Instant::now() + pause < deadline;
            if !retryable || attempt >= timeouts.retries || !fits {
                warn!(api = self.name, what, attempt, error = %failure, "Auth0 call failed");
                return Err(failure);
            }
            attempt += 1;
            tokio::time::sleep(pause).await;
        }
    }
}
