//! `POST /alexa`: verify the request, then let the skill answer it.

mod envelope;
mod skill;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tracing::{Instrument, info_span, warn};

use crate::HttpState;
use crate::error::ErrorBody;
pub(crate) use envelope::RequestEnvelope;

pub(crate) async fn handle(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = state.clock().now();
    if let Err(error) = state.verifier().verify(&headers, &body, now).await {
        state.metrics().verification_failed(error.reason());
        // Never the body: it carries the access token.
        warn!(reason = error.reason(), %error, "alexa request rejected");
        return (
            StatusCode::BAD_REQUEST,
            Json(ErrorBody::new(error.reason(), error.to_string())),
        )
            .into_response();
    }
    let envelope: RequestEnvelope = match serde_json::from_slice(&body) {
        Ok(envelope) => envelope,
        Err(error) => {
            state.metrics().verification_failed("body_invalid");
            warn!(%error, "alexa request body is not an Alexa envelope");
            return (
                StatusCode::BAD_REQUEST,
                Json(ErrorBody::new(
                    "body_invalid",
                    "not an Alexa request envelope",
                )),
            )
                .into_response();
        }
    };
    let span = info_span!(
        "alexa",
        request_id = envelope.request.request_id.as_deref().unwrap_or("-"),
        request_type = %envelope.request.kind,
        intent = envelope.request.intent.as_ref().map(|i| i.name.as_str()).unwrap_or("-"),
    );
    let answer = skill::answer(state.service(), state.metrics(), &envelope)
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
