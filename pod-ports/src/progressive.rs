//! Progressive responses: something Alexa says while the skill is still
//! working on its answer (Alexa's directive service, `VoicePlayer.Speak`).

use std::fmt;

use async_trait::async_trait;

/// Where a progressive response goes: the request's own Alexa API
/// endpoint, its API access token and its request id, as the request
/// envelope carried them. The token is never in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct SpeechTarget {
    /// `context.System.apiEndpoint`, such as `https://api.amazonalexa.com`.
    /// Untrusted: an adapter sends only to endpoints its configuration
    /// allows.
    pub api_endpoint: String,
    /// `context.System.apiAccessToken`, the bearer token for the API.
    pub api_access_token: String,
    /// `request.requestId` of the request being answered.
    pub request_id: String,
}

impl fmt::Debug for SpeechTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpeechTarget")
            .field("api_endpoint", &self.api_endpoint)
            .field("api_access_token", &"[redacted]")
            .field("request_id", &self.request_id)
            .finish()
    }
}

/// Why a progressive response was not delivered. Never carries the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpeechError {
    /// The request's API endpoint is not one the adapter sends to; nothing
    /// was sent.
    #[error("api endpoint not allowed: {0}")]
    EndpointRefused(String),
    /// The directive service answered with this HTTP status.
    #[error("the directive service answered HTTP {0}")]
    Status(u16),
    /// The directive service could not be reached in time.
    #[error("the directive service is unavailable: {0}")]
    Unavailable(String),
}

/// Says something to the person while the skill works on its answer.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait ProgressiveSpeech: Send + Sync {
    /// Sends `ssml` (a whole `<speak>` document) to be spoken for `target`'s
    /// request. Best effort: the caller's answer never depends on it.
    ///
    /// Errors: [`SpeechError::EndpointRefused`] when `target.api_endpoint`
    /// is not allowed (nothing is sent); [`SpeechError::Status`] for a
    /// non-2xx answer; [`SpeechError::Unavailable`] when no answer came.
    async fn speak(&self, target: &SpeechTarget, ssml: &str) -> Result<(), SpeechError>;
}
