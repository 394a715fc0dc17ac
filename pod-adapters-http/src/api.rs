//! `/api`: the JSON API for services and scripts, authenticated with
//! `Authorization: Bearer <access token>`.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use pod_domain::{CustomerId, Order, OrderState, Pizza, PizzaError};
use pod_ports::{CancelOutcome, ConfirmOutcome, OneTimeCode, PlaceOutcome};
use serde::{Deserialize, Serialize};

use crate::HttpState;
use crate::error::ApiError;

pub(crate) fn routes() -> Router<HttpState> {
    Router::new()
        .route("/orders", get(list).post(place))
        .route("/orders/confirm", post(confirm))
        .route("/orders/confirmed", delete(clear_confirmed))
        .route("/orders/pending", delete(cancel_pending))
        // The original sample's route, kept for its scripts.
        .route("/authorize/{code}", post(authorize_alias))
}

/// The customer behind the request's bearer token.
struct Customer(CustomerId);

impl FromRequestParts<HttpState> for Customer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                // The scheme is case-insensitive (RFC 9110, section 11.1).
                let (scheme, token) = v.trim_start().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(token)
            })
            .map(str::trim);
        match state.service().customer_for_token(token).await? {
            Some(customer) => Ok(Customer(customer)),
            None => Err(ApiError::unauthorized()),
        }
    }
}

/// JSON with pod's own error body for bad JSON (400), a wrong content type
/// (415) and an oversized body (413).
struct ApiJson<T>(T);

impl<T: serde::de::DeserializeOwned> FromRequest<HttpState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &HttpState) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send application/json",
                ),
                JsonRejection::BytesRejection(_)
                    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
                {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "the body is too large",
                    )
                }
                // serde's message can quote the body (a code, say): the
                // client gets a fixed message, the log only the kind.
                other => {
                    let kind = match other {
                        JsonRejection::JsonDataError(_) => "wrong fields or types",
                        JsonRejection::JsonSyntaxError(_) => "not JSON",
                        _ => "unreadable body",
                    };
                    tracing::info!(kind, "api: body refused");
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_json",
                        "the body is not the JSON object this endpoint takes",
                    )
                }
            }),
        }
    }
}

#[derive(Deserialize)]
struct PlaceRequest {
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    toppings: Option<Toppings>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Toppings {
    Phrase(String),
    List(Vec<String>),
}

#[derive(Deserialize)]
struct ConfirmRequest {
    code: String,
}

/// An order as `/api` shows it.
#[derive(Debug, Serialize)]
pub(crate) struct OrderJson {
    id: String,
    state: &'static str,
    size: &'static str,
    toppings: Vec<&'static str>,
    placed_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sent_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confirmed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancelled_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancel_reason: Option<&'static str>,
}

impl From<&Order> for OrderJson {
    fn from(order: &Order) -> Self {
        let mut json = OrderJson {
            id: order.id().to_string(),
            state: order.state().name(),
            size: order.pizza().size().name(),
            toppings: order.pizza().toppings().iter().map(|t| t.name()).collect(),
            placed_at: order.placed_at().to_rfc3339(),
            channel: None,
            sent_to: None,
            expires_at: None,
            failed_attempts: None,
            confirmed_at: None,
            cancelled_at: None,
            cancel_reason: None,
        };
        match order.state() {
            OrderState::AwaitingCode(waiting) => {
                json.channel = Some(waiting.channel().as_str());
                json.sent_to = Some(waiting.masked_destination().to_owned());
                json.expires_at = Some(waiting.expires_at().to_rfc3339());
                json.failed_attempts = Some(waiting.failed_attempts());
            }
            OrderState::Confirmed { at } => json.confirmed_at = Some(at.to_rfc3339()),
            OrderState::Cancelled { at, reason } => {
                json.cancelled_at = Some(at.to_rfc3339());
                json.cancel_reason = Some(reason.as_str());
            }
        }
        json
    }
}

async fn place(
    State(state): State<HttpState>,
    Customer(customer): Customer,
    ApiJson(request): ApiJson<PlaceRequest>,
) -> Result<Response, ApiError> {
    let toppings = match request.toppings {
        Some(Toppings::Phrase(phrase)) => Some(phrase),
        Some(Toppings::List(list)) => Some(list.join(", ")),
        None => None,
    };
    let pizza =
        Pizza::from_spoken(request.size.as_deref(), toppings.as_deref()).map_err(|error| {
            let code = match error {
                PizzaError::UnknownSize(_) => "unknown_size",
                PizzaError::UnknownTopping(_) => "unknown_topping",
                _ => "too_many_toppings",
            };
            ApiError::new(StatusCode::BAD_REQUEST, code, error.to_string())
        })?;
    // On a task of its own: when the router's timeout answers 408 and drops
    // this request, the order is still either sent or cancelled as
    // undeliverable, never left waiting for a code that was not sent.
    let service = state.service().clone();
    let outcome = tokio::spawn(async move { service.place_order_for(&customer, pizza).await })
        .await
        .map_err(|joined| {
            tracing::warn!(error = %joined, "placing the order failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "pod cannot serve this right now; try again later",
            )
        })??;
    if let Some(reason) = place_refusal(&outcome) {
        state.metrics().rejected(reason);
    }
    Ok(match outcome {
        PlaceOutcome::Placed { order, superseded } => {
            state.metrics().code_sent();
            let body = serde_json::json!({
                "order": OrderJson::from(&order),
                "channel": order.awaiting().map(|w| w.channel().as_str()),
                "sent_to": order.awaiting().map(|w| w.masked_destination()),
                "superseded": superseded.map(|id| id.to_string()),
            });
            (StatusCode::CREATED, Json(body)).into_response()
        }
        PlaceOutcome::NotLinked => ApiError::unauthorized().into_response(),
        PlaceOutcome::Locked => locked().into_response(),
        PlaceOutcome::RateLimited => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many codes were sent in the last hour",
        )
        .into_response(),
        PlaceOutcome::NoContactPoint => ApiError::new(
            StatusCode::CONFLICT,
            "no_contact_point",
            "the account has no phone number or email address",
        )
        .into_response(),
    })
}

/// The refusal reason `pod_rejections_total` counts, as the skill counts it.
fn place_refusal(outcome: &PlaceOutcome) -> Option<&'static str> {
    match outcome {
        PlaceOutcome::Placed { .. } => None,
        PlaceOutcome::NotLinked => Some("not_linked"),
        PlaceOutcome::Locked => Some("locked"),
        PlaceOutcome::RateLimited => Some("rate_limited"),
        PlaceOutcome::NoContactPoint => Some("no_contact_point"),
    }
}

/// The refusal reason of a confirmation, as the skill counts it.
fn confirm_refusal(outcome: &ConfirmOutcome) -> Option<&'static str> {
    match outcome {
        ConfirmOutcome::Confirmed(_) | ConfirmOutcome::AlreadyConfirmed(_) => None,
        ConfirmOutcome::WrongCode { .. } => Some("wrong_code"),
        ConfirmOutcome::TooManyAttempts(_) => Some("too_many_attempts"),
        ConfirmOutcome::Expired(_) => Some("expired"),
        ConfirmOutcome::NoPendingOrder => Some("no_pending_order"),
        ConfirmOutcome::Locked => Some("locked"),
        ConfirmOutcome::NotLinked => Some("not_linked"),
        ConfirmOutcome::RateLimited => Some("rate_limited"),
    }
}

fn locked() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "account_locked",
        "the account is locked after too many wrong codes; it unlocks after the cool-down, through an operator, or through a sign-in with another factor",
    )
}

async fn confirm(
    state: State<HttpState>,
    customer: Customer,
    ApiJson(request): ApiJson<ConfirmRequest>,
) -> Result<Response, ApiError> {
    confirm_code(state, customer, &request.code).await
}

async fn authorize_alias(
    state: State<HttpState>,
    customer: Customer,
    code: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    // A path segment that does not even decode to UTF-8 is a malformed code
    // like any other, answered with pod's JSON error rather than axum's text.
    let code = code.map(|Path(code)| code).unwrap_or_default();
    confirm_code(state, customer, &code).await
}

async fn confirm_code(
    State(state): State<HttpState>,
    Customer(customer): Customer,
    code: &str,
) -> Result<Response, ApiError> {
    let code = OneTimeCode::parse(code).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_code_format",
            "a code is 4 to 8 digits",
        )
    })?;
    let outcome = state.service().confirm_order_for(&customer, &code).await?;
    if let Some(reason) = confirm_refusal(&outcome) {
        state.metrics().rejected(reason);
    }
    let conflict =
        |error, message| ApiError::new(StatusCode::CONFLICT, error, message).into_response();
    Ok(match outcome {
        ConfirmOutcome::Confirmed(order) => {
            state.metrics().confirmed();
            Json(serde_json::json!({ "order": OrderJson::from(&order) })).into_response()
        }
        ConfirmOutcome::AlreadyConfirmed(_) => {
            conflict("already_confirmed", "the order is already confirmed")
        }
        ConfirmOutcome::WrongCode { attempts_left, .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "wrong_code",
            "the code is not right",
        )
        .with_attempts_left(attempts_left)
        .into_response(),
        ConfirmOutcome::TooManyAttempts(_) => conflict(
            "too_many_attempts",
            "the code was wrong too often; the order is cancelled",
        ),
        ConfirmOutcome::Expired(_) => {
            conflict("code_expired", "the code expired; the order is cancelled")
        }
        ConfirmOutcome::NoPendingOrder => ApiError::new(
            StatusCode::NOT_FOUND,
            "no_pending_order",
            "no order is waiting for a code",
        )
        .into_response(),
        ConfirmOutcome::Locked => locked().into_response(),
        ConfirmOutcome::NotLinked => ApiError::unauthorized().into_response(),
        ConfirmOutcome::RateLimited => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many attempts just now; wait a minute",
        )
        .into_response(),
    })
}

async fn list(
    State(state): State<HttpState>,
    Customer(customer): Customer,
) -> Result<Json<serde_json::Value>, ApiError> {
    let orders = state.service().orders_of(&customer).await?;
    let pending = orders
        .iter()
        .find(|o| o.awaiting().is_some())
        .map(OrderJson::from);
    let confirmed: Vec<OrderJson> = orders
        .iter()
        .filter(|o| matches!(o.state(), OrderState::Confirmed { .. }))
        .map(OrderJson::from)
        .collect();
    Ok(Json(
        serde_json::json!({ "pending": pending, "confirmed": confirmed }),
    ))
}

async fn clear_confirmed(
    State(state): State<HttpState>,
    Customer(customer): Customer,
) -> Result<Json<serde_json::Value>, ApiError> {
    let cleared = state.service().clear_confirmed(&customer).await?;
    Ok(Json(serde_json::json!({ "cleared": cleared })))
}

/// `DELETE /api/orders/pending`: cancels the order waiting for its code
/// (200 with the cancelled order; 404 `no_pending_order` when none waits).
async fn cancel_pending(
    State(state): State<HttpState>,
    Customer(customer): Customer,
) -> Result<Json<serde_json::Value>, ApiError> {
    match state.service().cancel_pending_for(&customer).await? {
        CancelOutcome::Cancelled(order) => Ok(Json(
            serde_json::json!({ "order": OrderJson::from(&order) }),
        )),
        CancelOutcome::NoPendingOrder => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_pending_order",
            "no order is waiting for a code",
        )),
        CancelOutcome::NotLinked => Err(ApiError::unauthorized()),
    }
}
