//! What the skill does: one request envelope in, one response envelope out,
//! apart from verification and transport. The words come from the
//! catalogue of the request's locale (`texts`).

use pod_alexa::envelope::{Intent, IntentName, Request, RequestEnvelope, ResponseEnvelope};
use pod_domain::{Channel, CustomerId, Pizza, PizzaError};
use pod_ports::{ConfirmOutcome, OneTimeCode, OrderingService, PlaceOutcome, ServiceError};
use tracing::{info, warn};

use super::progressive::{self, ProgressiveResponses};
use super::texts::Texts;
use crate::metrics::Metrics;

/// How the skill answered: the response, whether the request type is one
/// pod does not handle, and whether the answer is an apology for a failure
/// of the infrastructure (a store, the identity provider, a code delivery),
/// which a retry of the same request may get past.
pub(crate) struct Answer {
    pub(crate) response: ResponseEnvelope,
    pub(crate) unsupported: bool,
    pub(crate) failed: bool,
}

impl From<ResponseEnvelope> for Answer {
    fn from(response: ResponseEnvelope) -> Self {
        Answer {
            response,
            unsupported: false,
            failed: false,
        }
    }
}

/// Answers one verified request, in the words of `texts` (its locale's);
/// a slow order step says `texts.one_moment` through `progressive` first.
pub(crate) async fn answer(
    service: &OrderingService,
    metrics: &Metrics,
    texts: &Texts,
    envelope: &RequestEnvelope,
    progressive: Option<&ProgressiveResponses>,
) -> Answer {
    match &envelope.request {
        Request::Launch(_) => ResponseEnvelope::ask(texts.welcome, texts.order_hint).into(),
        // Skill events and CanFulfillIntentRequest are answered by their own
        // handlers (`events.rs`, `can_fulfill.rs`) before this is called.
        Request::SessionEnded(_)
        | Request::ExceptionEncountered(_)
        | Request::SkillEvent(_)
        | Request::CanFulfillIntent(_) => ResponseEnvelope::empty().into(),
        Request::Intent(request) => match &request.intent {
            Some(intent) => {
                answer_intent(service, metrics, texts, envelope, intent, progressive).await
            }
            None => ResponseEnvelope::ask(texts.not_understood, texts.order_hint).into(),
        },
        Request::Unsupported(other) => {
            info!(
                request_type = other.kind.as_str(),
                "unsupported request type"
            );
            Answer {
                response: ResponseEnvelope::empty(),
                unsupported: true,
                failed: false,
            }
        }
    }
}

async fn answer_intent(
    service: &OrderingService,
    metrics: &Metrics,
    texts: &Texts,
    envelope: &RequestEnvelope,
    intent: &Intent,
    progressive: Option<&ProgressiveResponses>,
) -> Answer {
    match &intent.name {
        IntentName::GetMeSomePizza | IntentName::AuthorizePizzaOrder => {
            // Both act for the customer the account is linked to.
            let customer = match linked_customer(service, metrics, texts, envelope).await {
                Ok(customer) => customer,
                Err(answer) => return answer,
            };
            if intent.name == IntentName::GetMeSomePizza {
                let order = order(service, metrics, texts, &customer, intent);
                progressive::around(progressive, metrics, envelope, texts.one_moment, order).await
            } else {
                authorize(service, metrics, texts, &customer, intent).await
            }
        }
        IntentName::Help => ResponseEnvelope::ask(texts.help, texts.order_hint).into(),
        IntentName::Cancel => super::cancel::answer(service, metrics, texts, envelope)
            .await
            .into(),
        IntentName::Stop | IntentName::NavigateHome => ResponseEnvelope::tell(texts.goodbye).into(),
        IntentName::Fallback => ResponseEnvelope::ask(texts.fallback, texts.order_hint).into(),
        IntentName::Other(other) => {
            info!(intent = other.as_str(), "unknown intent");
            ResponseEnvelope::ask(texts.unknown_intent, texts.order_hint).into()
        }
    }
}

async fn order(
    service: &OrderingService,
    metrics: &Metrics,
    texts: &Texts,
    customer: &CustomerId,
    intent: &Intent,
) -> Answer {
    let pizza = match Pizza::from_spoken(intent.slot("Size"), intent.slot("Toppings")) {
        Ok(pizza) => pizza,
        Err(error) => {
            metrics.rejected(pizza_error_reason(&error));
            return ResponseEnvelope::ask((texts.misunderstood_pizza)(&error), texts.order_hint)
                .into();
        }
    };
    let outcome = match service.place_order_for(customer, pizza).await {
        Ok(outcome) => outcome,
        Err(error) => return failed(metrics, texts, &error),
    };
    match outcome {
        PlaceOutcome::Placed { order, superseded } => {
            metrics.code_sent();
            let channel = order.awaiting().map_or(Channel::Email, |w| w.channel());
            let sent_to = order
                .awaiting()
                .map(|w| w.masked_destination().to_owned())
                .unwrap_or_default();
            ResponseEnvelope::ask(
                (texts.order_received)(channel, superseded.is_some()),
                texts.code_hint,
            )
            .with_simple_card(
                texts.order_card_title,
                (texts.order_card)(order.pizza(), &sent_to),
            )
        }
        PlaceOutcome::NotLinked => not_linked(metrics, texts),
        PlaceOutcome::Locked => locked(metrics, texts),
        PlaceOutcome::RateLimited => {
            metrics.rejected("rate_limited");
            ResponseEnvelope::tell(texts.order_rate_limited)
        }
        PlaceOutcome::NoContactPoint => {
            metrics.rejected("no_contact_point");
            ResponseEnvelope::tell(texts.no_contact_point)
        }
    }
    .into()
}

async fn authorize(
    service: &OrderingService,
    metrics: &Metrics,
    texts: &Texts,
    customer: &CustomerId,
    intent: &Intent,
) -> Answer {
    let Some(code) = intent
        .slot("Code")
        .and_then(|spoken| OneTimeCode::parse(spoken).ok())
    else {
        metrics.rejected("code_not_understood");
        let digits = service.policy().code_digits();
        return ResponseEnvelope::ask((texts.code_not_caught)(digits), texts.code_hint).into();
    };
    let outcome = match service.confirm_order_for(customer, &code).await {
        Ok(outcome) => outcome,
        Err(error) => return failed(metrics, texts, &error),
    };
    match outcome {
        ConfirmOutcome::Confirmed(order) => {
            metrics.confirmed();
            ResponseEnvelope::tell((texts.confirmed)(order.pizza())).with_simple_card(
                texts.confirmed_card_title,
                (texts.confirmed_card)(order.pizza()),
            )
        }
        ConfirmOutcome::AlreadyConfirmed(_) => ResponseEnvelope::tell(texts.already_confirmed),
        ConfirmOutcome::WrongCode { attempts_left, .. } => {
            metrics.rejected("wrong_code");
            ResponseEnvelope::ask((texts.wrong_code)(attempts_left), texts.code_hint)
        }
        ConfirmOutcome::TooManyAttempts(_) => {
            metrics.rejected("too_many_attempts");
            ResponseEnvelope::tell(texts.too_many_attempts)
        }
        ConfirmOutcome::Expired(_) => {
            metrics.rejected("expired");
            ResponseEnvelope::tell(texts.expired)
        }
        ConfirmOutcome::NoPendingOrder => {
            metrics.rejected("no_pending_order");
            ResponseEnvelope::ask(texts.no_pending_order, texts.order_hint)
        }
        ConfirmOutcome::Locked => locked(metrics, texts),
        ConfirmOutcome::NotLinked => not_linked(metrics, texts),
        ConfirmOutcome::RateLimited => {
            metrics.rejected("rate_limited");
            ResponseEnvelope::tell(texts.confirm_rate_limited)
        }
    }
    .into()
}

/// The customer the request's access token belongs to, or the answer for a
/// missing, invalid or expired token (the LinkAccount card) or an outage.
async fn linked_customer(
    service: &OrderingService,
    metrics: &Metrics,
    texts: &Texts,
    envelope: &RequestEnvelope,
) -> Result<CustomerId, Answer> {
    match service.customer_for_token(envelope.access_token()).await {
        Ok(Some(customer)) => Ok(customer),
        Ok(None) => Err(not_linked(metrics, texts).into()),
        Err(error) => Err(failed(metrics, texts, &error)),
    }
}

fn not_linked(metrics: &Metrics, texts: &Texts) -> ResponseEnvelope {
    metrics.rejected("not_linked");
    ResponseEnvelope::tell(texts.link_account).with_link_account_card()
}

fn locked(metrics: &Metrics, texts: &Texts) -> ResponseEnvelope {
    metrics.rejected("locked");
    ResponseEnvelope::tell(texts.locked)
}

pub(super) fn unavailable(
    metrics: &Metrics,
    texts: &Texts,
    error: &ServiceError,
) -> ResponseEnvelope {
    warn!(%error, "answering with an apology");
    match error {
        ServiceError::CodeDelivery(_) => {
            metrics.rejected("code_delivery_failed");
            ResponseEnvelope::tell(texts.code_delivery_failed)
        }
        _ => {
            metrics.rejected("unavailable");
            ResponseEnvelope::tell(texts.unavailable)
        }
    }
}

/// The apology for a failure of the infrastructure, marked `failed` (a
/// retry of the same request may get past it).
fn failed(metrics: &Metrics, texts: &Texts, error: &ServiceError) -> Answer {
    Answer {
        response: unavailable(metrics, texts, error),
        unsupported: false,
        failed: true,
    }
}

fn pizza_error_reason(error: &PizzaError) -> &'static str {
    match error {
        PizzaError::UnknownSize(_) => "unknown_size",
        PizzaError::UnknownTopping(_) => "unknown_topping",
        _ => "too_many_toppings",
    }
}
