//! The JSON error body shared by `/alexa` (verification failures) and `/api`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pod_ports::ServiceError;
use serde::Serialize;
use tracing::warn;

/// `{"error": "<stable_code>", "message": "..."}`.
#[derive(Debug, Serialize)]
pub(crate) struct ErrorBody {
    error: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts_left: Option<u32>,
}

impl ErrorBody {
    pub(crate) fn new(error: &'static str, message: impl Into<String>) -> Self {
        ErrorBody {
            error,
            message: message.into(),
            attempts_left: None,
        }
    }
}

/// An `/api` error: a status and a stable code. The cause goes to the log,
/// never to the client.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody::new(error, message),
        }
    }

    pub(crate) fn with_attempts_left(mut self, attempts_left: u32) -> Self {
        self.body.attempts_left = Some(attempts_left);
        self
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer access token is required",
        )
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        warn!(%error, "api request failed");
        match error {
            ServiceError::CodeDelivery(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "code_delivery_failed",
                "the code could not be delivered; the order was cancelled",
            ),
            _ => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "pod cannot serve this right now; try again later",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
