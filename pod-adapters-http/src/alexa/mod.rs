//! `POST /alexa`: verify the request (pod-alexa parses the envelope once,
//! from the verified bytes), then let the skill answer it.

mod progressive;
mod skill;
mod texts;

pub use progressive::ProgressiveResponses;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tracing::{Instrument, info_span, warn};

use crate::HttpState;
use crate::error::ErrorBody;

pub(crate) async fn handle(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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
    let progressive = state.progressive();
    let answer = skill::answer(
        state.service(),
        state.metrics(),
        texts,
        envelope,
        progressive,
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
