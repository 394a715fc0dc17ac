//! What the skill says: one request envelope in, one response envelope out.
//! The words live here, apart from verification and transport.

use pod_alexa::envelope::{Intent, IntentName, Request, RequestEnvelope, ResponseEnvelope};
use pod_domain::{CustomerId, MAX_TOPPINGS, Order, Pizza, PizzaError, Topping};
use pod_ports::{ConfirmOutcome, OneTimeCode, OrderingService, PlaceOutcome, ServiceError};
use tracing::{info, warn};

use crate::metrics::Metrics;

const WELCOME: &str = "Welcome to Pizza on Demand. How can I help you?";
const ORDER_HINT: &str = "You can say: get me a large pizza with pepperoni.";
const CODE_HINT: &str = "Say authorize, followed by the code.";
const HELP: &str = "You can order a pizza by saying: get me a large pizza with pepperoni. \
    I will send a code to your phone or email, and you authorize the order by saying: authorize, followed by the code. \
    What would you like?";
const GOODBYE: &str = "Goodbye.";
const LINK_ACCOUNT: &str = "To order pizza, please link your Pizza on Demand account. \
    I have sent a card to the Alexa app to help you do that.";

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

/// Answers one verified request.
pub(crate) async fn answer(
    service: &OrderingService,
    metrics: &Metrics,
    envelope: &RequestEnvelope,
) -> Answer {
    match &envelope.request {
        Request::Launch(_) => ResponseEnvelope::ask(WELCOME, ORDER_HINT).into(),
        Request::SessionEnded(_) | Request::ExceptionEncountered(_) => {
            ResponseEnvelope::empty().into()
        }
        Request::Intent(request) => match &request.intent {
            Some(intent) => answer_intent(service, metrics, envelope, intent).await,
            None => ResponseEnvelope::ask(
                "Sorry, I didn't understand that. How can I help you?",
                ORDER_HINT,
            )
            .into(),
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
    envelope: &RequestEnvelope,
    intent: &Intent,
) -> Answer {
    match &intent.name {
        IntentName::GetMeSomePizza | IntentName::AuthorizePizzaOrder => {
            // Both act for the customer the account is linked to.
            let customer = match linked_customer(service, metrics, envelope).await {
                Ok(customer) => customer,
                Err(answer) => return answer,
            };
            if intent.name == IntentName::GetMeSomePizza {
                order(service, metrics, &customer, intent).await
            } else {
                authorize(service, metrics, &customer, intent).await
            }
        }
        IntentName::Help => ResponseEnvelope::ask(HELP, ORDER_HINT).into(),
        IntentName::Stop | IntentName::Cancel | IntentName::NavigateHome => {
            ResponseEnvelope::tell(GOODBYE).into()
        }
        IntentName::Fallback => ResponseEnvelope::ask(
            format!("Sorry, Pizza on Demand can't help with that. {ORDER_HINT} Or say help."),
            ORDER_HINT,
        )
        .into(),
        IntentName::Other(other) => {
            info!(intent = other.as_str(), "unknown intent");
            ResponseEnvelope::ask(
                format!("Sorry, I don't know how to do that. {ORDER_HINT} Or say help."),
                ORDER_HINT,
            )
            .into()
        }
    }
}

async fn order(
    service: &OrderingService,
    metrics: &Metrics,
    customer: &CustomerId,
    intent: &Intent,
) -> Answer {
    let pizza = match Pizza::from_spoken(intent.slot("Size"), intent.slot("Toppings")) {
        Ok(pizza) => pizza,
        Err(error) => {
            metrics.rejected(pizza_error_reason(&error));
            return misunderstood_pizza(&error).into();
        }
    };
    let outcome = match service.place_order_for(customer, pizza).await {
        Ok(outcome) => outcome,
        Err(error) => return unavailable(metrics, &error),
    };
    match outcome {
        PlaceOutcome::Placed { order, superseded } => {
            metrics.code_sent();
            let place = order
                .awaiting()
                .map(|w| w.channel().spoken_place())
                .unwrap_or("email");
            let sent_to = order
                .awaiting()
                .map(|w| w.masked_destination().to_owned())
                .unwrap_or_default();
            let previous = if superseded.is_some() {
                "I cancelled your previous order. "
            } else {
                ""
            };
            ResponseEnvelope::ask(
                format!(
                    "{previous}I have received your pizza request. Authorize the transaction using the code received in your {place}."
                ),
                CODE_HINT,
            )
            .with_simple_card("Pizza order received", format!("{}. Code sent to {sent_to}.", capitalized(order.pizza())))
        }
        PlaceOutcome::NotLinked => not_linked(metrics),
        PlaceOutcome::Locked => locked(metrics),
        PlaceOutcome::RateLimited => {
            metrics.rejected("rate_limited");
            ResponseEnvelope::tell(
                "You have asked for too many codes in the last hour. Please try again later.",
            )
        }
        PlaceOutcome::NoContactPoint => {
            metrics.rejected("no_contact_point");
            ResponseEnvelope::tell(
                "Your account has no phone number or email address that I can send a code to. \
                 Please add one to your account, then order again.",
            )
        }
    }
    .into()
}

async fn authorize(
    service: &OrderingService,
    metrics: &Metrics,
    customer: &CustomerId,
    intent: &Intent,
) -> Answer {
    let Some(code) = intent
        .slot("Code")
        .and_then(|spoken| OneTimeCode::parse(spoken).ok())
    else {
        metrics.rejected("code_not_understood");
        let digits = service.policy().code_digits();
        return ResponseEnvelope::ask(
            format!(
                "I didn't catch the code. Please say authorize, followed by the {digits} digits."
            ),
            CODE_HINT,
        )
        .into();
    };
    let outcome = match service.confirm_order_for(customer, &code).await {
        Ok(outcome) => outcome,
        Err(error) => return unavailable(metrics, &error),
    };
    match outcome {
        ConfirmOutcome::Confirmed(order) => {
            metrics.confirmed();
            ResponseEnvelope::tell(format!(
                "Order confirmed. Your {} is on its way.",
                without_article(&order)
            ))
            .with_simple_card("Order confirmed", capitalized(order.pizza()))
        }
        ConfirmOutcome::AlreadyConfirmed(_) => {
            ResponseEnvelope::tell("That order is already confirmed.")
        }
        ConfirmOutcome::WrongCode { attempts_left, .. } => {
            metrics.rejected("wrong_code");
            let attempts = if attempts_left == 1 {
                "1 attempt".to_owned()
            } else {
                format!("{attempts_left} attempts")
            };
            ResponseEnvelope::ask(
                format!("That code is not right. You have {attempts} left. {CODE_HINT}"),
                CODE_HINT,
            )
        }
        ConfirmOutcome::TooManyAttempts(_) => {
            metrics.rejected("too_many_attempts");
            ResponseEnvelope::tell(
                "That code is not right, and that was the last attempt, so I cancelled the order. You can place a new one.",
            )
        }
        ConfirmOutcome::Expired(_) => {
            metrics.rejected("expired");
            ResponseEnvelope::tell(
                "That code has expired, so I cancelled the order. Please order again to get a new code.",
            )
        }
        ConfirmOutcome::NoPendingOrder => {
            metrics.rejected("no_pending_order");
            ResponseEnvelope::ask(
                format!("There is no order waiting for a code. {ORDER_HINT}"),
                ORDER_HINT,
            )
        }
        ConfirmOutcome::Locked => locked(metrics),
        ConfirmOutcome::NotLinked => not_linked(metrics),
        ConfirmOutcome::RateLimited => {
            metrics.rejected("rate_limited");
            ResponseEnvelope::tell(
                "Too many codes were tried just now. Please wait a minute and try again.",
            )
        }
    }
    .into()
}

/// The customer the request's access token belongs to, or the answer for a
/// missing, invalid or expired token (the LinkAccount card) or an outage.
async fn linked_customer(
    service: &OrderingService,
    metrics: &Metrics,
    envelope: &RequestEnvelope,
) -> Result<CustomerId, Answer> {
    match service.customer_for_token(envelope.access_token()).await {
        Ok(Some(customer)) => Ok(customer),
        Ok(None) => Err(not_linked(metrics).into()),
        Err(error) => Err(unavailable(metrics, &error)),
    }
}

fn not_linked(metrics: &Metrics) -> ResponseEnvelope {
    metrics.rejected("not_linked");
    ResponseEnvelope::tell(LINK_ACCOUNT).with_link_account_card()
}

fn locked(metrics: &Metrics) -> ResponseEnvelope {
    metrics.rejected("locked");
    ResponseEnvelope::tell(
        "Voice ordering is locked because of too many wrong codes. \
         It unlocks by itself after a while; please try again later.",
    )
}

/// The apology for a failure of the infrastructure: an answer marked
/// `failed`.
fn unavailable(metrics: &Metrics, error: &ServiceError) -> Answer {
    warn!(%error, "answering with an apology");
    let response = match error {
        ServiceError::CodeDelivery(_) => {
            metrics.rejected("code_delivery_failed");
            ResponseEnvelope::tell(
                "Sorry, I couldn't send your authorization code, so I cancelled the order. Please try again later.",
            )
        }
        _ => {
            metrics.rejected("unavailable");
            trouble()
        }
    };
    Answer {
        response,
        unsupported: false,
        failed: true,
    }
}

/// "Sorry, ... having trouble": the apology for an outage.
pub(crate) fn trouble() -> ResponseEnvelope {
    ResponseEnvelope::tell(
        "Sorry, Pizza on Demand is having trouble right now. Please try again in a few minutes.",
    )
}

fn pizza_error_reason(error: &PizzaError) -> &'static str {
    match error {
        PizzaError::UnknownSize(_) => "unknown_size",
        PizzaError::UnknownTopping(_) => "unknown_topping",
        _ => "too_many_toppings",
    }
}

fn misunderstood_pizza(error: &PizzaError) -> ResponseEnvelope {
    let toppings: Vec<&str> = Topping::ALL.iter().map(|t| t.name()).collect();
    let choices = format!(
        "{} and {}",
        toppings[..toppings.len() - 1].join(", "),
        toppings[toppings.len() - 1]
    );
    let text = match error {
        PizzaError::UnknownTopping(word) => {
            format!("I don't know the topping {word}. You can choose from {choices}.")
        }
        PizzaError::UnknownSize(word) => {
            format!("I don't know the size {word}. Pizzas come small, medium, large or jumbo.")
        }
        _ => format!("I can put at most {MAX_TOPPINGS} toppings on a pizza. Which would you like?"),
    };
    ResponseEnvelope::ask(format!("{text} What would you like?"), ORDER_HINT)
}

fn capitalized(pizza: &Pizza) -> String {
    let text = pizza.to_string();
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// "large pizza with pepperoni" (for "Your large pizza ... is on its way").
fn without_article(order: &Order) -> String {
    let text = order.pizza().to_string();
    text.strip_prefix("a ").map(str::to_owned).unwrap_or(text)
}
