//! Progressive responses: when an order takes longer than a threshold
//! (identity provisioning and code delivery through Auth0 can take
//! seconds), Alexa says "One moment while I send your code." through the
//! [`ProgressiveSpeech`] port while the skill keeps working.
//!
//! The directive is spawned, capped by a timeout, and never awaited by the
//! answer; whatever happens to it (refused endpoint, 4xx, 5xx, timeout) is
//! logged, without the API access token, and the answer is the same.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use pod_alexa::directives::ssml;
use pod_alexa::envelope::RequestEnvelope;
use pod_ports::{ProgressiveSpeech, SpeechError, SpeechTarget};
use tracing::{Instrument, Span, debug, info, warn};

use crate::metrics::Metrics;

/// When and how the skill sends progressive responses (given to
/// [`HttpState::with_progressive_responses`](crate::HttpState::with_progressive_responses)).
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct ProgressiveResponses {
    speech: Arc<dyn ProgressiveSpeech>,
    after: Duration,
    timeout: Duration,
}

impl ProgressiveResponses {
    /// Speaks through `speech` when an order step has not finished `after`
    /// this long; one directive takes at most `timeout`.
    pub fn new(speech: Arc<dyn ProgressiveSpeech>, after: Duration, timeout: Duration) -> Self {
        ProgressiveResponses {
            speech,
            after,
            timeout,
        }
    }
}

/// Runs `work`; if it has not finished after the threshold, spawns the
/// progressive response for `envelope`'s request (when it carries an API
/// endpoint, token and request id) and goes on waiting for `work`. The
/// result is always `work`'s.
pub(super) async fn around<F: Future>(
    progressive: Option<&ProgressiveResponses>,
    metrics: &Metrics,
    envelope: &RequestEnvelope,
    text: &'static str,
    work: F,
) -> F::Output {
    let (Some(progressive), Some((api_endpoint, api_access_token, request_id))) =
        (progressive, target(envelope))
    else {
        return work.await;
    };
    let mut work = std::pin::pin!(work);
    tokio::select! {
        biased;
        done = &mut work => return done,
        () = tokio::time::sleep(progressive.after) => {}
    }
    // Owned only now: most orders finish before the threshold.
    let target = SpeechTarget {
        api_endpoint: api_endpoint.to_owned(),
        api_access_token: api_access_token.to_owned(),
        request_id: request_id.to_owned(),
    };
    let speech = progressive.speech.clone();
    let timeout = progressive.timeout;
    let metrics = metrics.clone();
    tokio::spawn(
        async move {
            let outcome =
                match tokio::time::timeout(timeout, speech.speak(&target, &ssml(text))).await {
                    Ok(Ok(())) => {
                        info!("progressive response sent");
                        "sent"
                    }
                    Ok(Err(error)) => {
                        warn!(%error, "progressive response not sent");
                        match error {
                            SpeechError::EndpointRefused(_) => "endpoint_refused",
                            SpeechError::Status(status) if status < 500 => "rejected",
                            SpeechError::Status(_) => "failed",
                            SpeechError::Unavailable(_) => "unavailable",
                        }
                    }
                    Err(_) => {
                        warn!(
                            timeout_ms = timeout.as_millis(),
                            "progressive response timed out"
                        );
                        "timeout"
                    }
                };
            metrics.progressive_response(outcome);
        }
        .instrument(Span::current()),
    );
    work.await
}

/// The request's API endpoint, API access token and request id, if it has
/// all three.
fn target(envelope: &RequestEnvelope) -> Option<(&str, &str, &str)> {
    let system = envelope.context.as_ref()?.system.as_ref()?;
    let token = system.api_access_token.as_deref()?;
    if token.is_empty() {
        debug!("no API access token: no progressive response");
        return None;
    }
    Some((
        system.api_endpoint.as_deref()?,
        token,
        envelope.request.request_id()?,
    ))
}
