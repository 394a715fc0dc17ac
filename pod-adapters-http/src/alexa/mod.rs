//! `POST /alexa`: verify the request (pod-alexa parses the envelope once,
//! from the verified bytes), then let the skill answer it: a request that
//! can change state only once per request id ([`replay`]).
//!
//! A request that can change state (and so calls peers) runs on a task of
//! its own, and the handler waits for it only until [`answer_deadline`]: when a peer (Auth0, the database, SMTP) is
//! slow, Alexa still hears clear speech inside its 8 seconds instead of the
//! router's 408, and the task goes on to its end, so an order whose code
//! was being sent is either sent or cancelled as undeliverable, never left
//! waiting for a code that was not sent (dropping the work half-way would
//! do that).

mod can_fulfill;
mod cancel;
mod events;
mod progressive;
pub(crate) mod replay;
mod skill;
mod texts;

use std::time::Duration;

pub use progressive::ProgressiveResponses;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pod_alexa::envelope::ResponseEnvelope;
use tracing::{Instrument, info_span, warn};

use pod_alexa::envelope::Request;
use pod_ports::ServiceError;

use crate::HttpState;
use crate::error::ErrorBody;

pub(crate) async fn handle(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = tokio::time::Instant::now();
    let now = state.clock().now();
    let verified = match state.verifier().verify(&headers, &body, now).await {
        Ok(verified) => verified,
        Err(error) => {
            state.metrics().verification_failed(error.reason());
            // Never the body: it carries the access token.
            warn!(reason = error.reason(), %error, "alexa request rejected");
            return (
                StatusCode::BAD_REQUEST,
                Json(ErrorBody::new(error.reason(), error.public_message())),
            )
                .into_response();
        }
    };
    let envelope = verified.envelope();
    // The words of the request's locale (en-US for any other).
    let texts = texts::for_locale(
        envelope
            .request
            .common()
            .locale
            .as_deref()
            .unwrap_or_default(),
    );
    let span = info_span!(
        "alexa",
        request_id = envelope.request.request_id().unwrap_or("-"),
        request_type = envelope.request.type_name(),
        intent = envelope.request.intent().map_or("-", |i| i.name.as_str()),
        locale = texts.locale,
    );
    let deadline = started + answer_deadline(state.request_timeout());
    // Never before verification: only a verified request may claim.
    let once = |keep, apologies| replay::Once {
        body: &body,
        request_id: envelope.request.request_id(),
        keep_until: now.plus(keep),
        apologies,
    };
    // Skill events and CanFulfillIntentRequest have handlers of their own.
    match &envelope.request {
        Request::SkillEvent(event) => {
            if !replay::changes_state(&envelope.request) {
                // Logged only: nothing to answer once.
                return match events::answer(state.skill_events(), envelope, event)
                    .instrument(span)
                    .await
                {
                    Ok(answer) => Json(answer).into_response(),
                    Err(error) => event_failed(&error),
                };
            }
            let once = once(replay::EVENT_KEEP, replay::Apologies::Event);
            let (worker, envelope, event) = (state.clone(), envelope.clone(), event.clone());
            let work = async move {
                match events::answer(worker.skill_events(), &envelope, &event).await {
                    Ok(answer) => replay::Processed::answered(&answer),
                    Err(error) => replay::Processed::Failed(event_failed(&error)),
                }
            };
            return replay::answer_once(state, once, deadline, span, work).await;
        }
        Request::CanFulfillIntent(query) => {
            return Json(can_fulfill::answer(envelope, query)).into_response();
        }
        _ => {}
    }
    if replay::changes_state(&envelope.request) {
        let once = once(replay::KEEP, replay::Apologies::Speech(texts));
        let (worker, envelope) = (state.clone(), envelope.clone());
        let work = async move {
            let answer = skill::answer(
                worker.service(),
                worker.metrics(),
                texts,
                &envelope,
                worker.progressive(),
            )
            .await;
            if answer.failed {
                replay::Processed::Failed(Json(answer.response).into_response())
            } else {
                replay::Processed::answered(&answer.response)
            }
        };
        return replay::answer_once(state, once, deadline, span, work).await;
    }
    // The rest (launch, help, stop, session ends, unknown intents) change
    // nothing and call no peer: answered inline, with no deadline to keep.
    let answer = skill::answer(
        state.service(),
        state.metrics(),
        texts,
        envelope,
        state.progressive(),
    )
    .instrument(span)
    .await;
    if answer.unsupported {
        return (
            StatusCode::BAD_REQUEST,
            Json(ErrorBody::new(
                "unsupported_request_type",
                "pod does not handle this Alexa request type",
            )),
        )
            .into_response();
    }
    Json(answer.response).into_response()
}

/// The apology when the skill's answer is not ready by the deadline; its
/// task goes on to its end.
fn too_slow(state: &HttpState, texts: &texts::Texts) -> ResponseEnvelope {
    warn!("the skill did not answer in time; answering with an apology");
    state.metrics().rejected("too_slow");
    ResponseEnvelope::tell(texts.too_slow)
}

/// How long the skill may work on one request: a second less than the
/// router's timeout (a quarter less when that is shorter than 4 s), so the
/// apology is sent before the router would answer 408.
pub(crate) fn answer_deadline(request_timeout: Duration) -> Duration {
    request_timeout.saturating_sub(Duration::from_secs(1).min(request_timeout / 4))
}

/// A skill event that could not be acted on: 503, so Alexa may deliver it
/// again. The cause goes to the log only.
fn event_failed(error: &ServiceError) -> Response {
    warn!(%error, "skill event not handled");
    event_unavailable()
}

/// The 503 that asks Alexa to deliver a skill event again.
fn event_unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(ErrorBody::new(
            "unavailable",
            "pod cannot handle this event right now; deliver it again later",
        )),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_deadline_leaves_room_before_the_request_timeout() {
        assert_eq!(
            answer_deadline(Duration::from_secs(7)),
            Duration::from_secs(6)
        );
        assert_eq!(
            answer_deadline(Duration::from_secs(2)),
            Duration::from_millis(1500)
        );
        assert_eq!(answer_deadline(Duration::ZERO), Duration::ZERO);
    }
}
