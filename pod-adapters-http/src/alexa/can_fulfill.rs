//! `CanFulfillIntentRequest` (name-free interaction): could pod fulfil
//! this intent with these slots? Answered from the interaction model and
//! the domain's parsers alone: no port is called, so the answer has no side
//! effects (no order, no code, nothing stored or read), as Amazon requires.
//!
//! - `GetMeSomePizzaIntent`: `Size` and `Toppings` are understood when the
//!   domain's parser reads them (in any of its languages: an order is the
//!   same pizza whatever language it was said in). Too many toppings are
//!   understood but cannot be fulfilled.
//! - `AuthorizePizzaOrderIntent`: `Code` is understood when it is digits,
//!   and can be fulfilled when it is a code (4 to 8 digits).
//! - The intent: `NO` when a slot it was given cannot be fulfilled or for
//!   any other intent; `MAYBE` when the request carries no account-linking
//!   token (the person must link an account first) or a code is missing;
//!   `YES` otherwise.

use std::collections::BTreeMap;

use pod_alexa::envelope::{
    CanFulfill, CanFulfillIntent, CanFulfillIntentRequest, CanFulfillSlot, IntentName,
    RequestEnvelope, ResponseEnvelope,
};
use pod_domain::{Pizza, PizzaError, PizzaSize};
use pod_ports::OneTimeCode;

/// The answer to `request`, from `envelope` (which says whether an account
/// is linked). Pure.
pub(super) fn answer(
    envelope: &RequestEnvelope,
    request: &CanFulfillIntentRequest,
) -> ResponseEnvelope {
    ResponseEnvelope::can_fulfill(decide(envelope.access_token().is_some(), request))
}

fn decide(linked: bool, request: &CanFulfillIntentRequest) -> CanFulfillIntent {
    let no = || CanFulfillIntent {
        can_fulfill: CanFulfill::No,
        slots: BTreeMap::new(),
    };
    let Some(intent) = &request.intent else {
        return no();
    };
    let known: &[&str] = match intent.name {
        IntentName::GetMeSomePizza => &["Size", "Toppings"],
        IntentName::AuthorizePizzaOrder => &["Code"],
        _ => return no(),
    };
    let mut slots = BTreeMap::new();
    for name in intent.slots.keys() {
        let Some(value) = intent.slot(name) else {
            continue; // not filled: nothing to say about it
        };
        let (understood, fulfilled) = if known.contains(&name.as_str()) {
            judge(name, value)
        } else {
            (false, false)
        };
        slots.insert(
            name.clone(),
            CanFulfillSlot {
                can_understand: yes_no(understood),
                can_fulfill: yes_no(fulfilled),
            },
        );
    }
    let all_fulfilled = slots.values().all(|s| s.can_fulfill == CanFulfill::Yes);
    let missing_code =
        intent.name == IntentName::AuthorizePizzaOrder && intent.slot("Code").is_none();
    let can_fulfill = if !all_fulfilled {
        CanFulfill::No
    } else if !linked || missing_code {
        CanFulfill::Maybe
    } else {
        CanFulfill::Yes
    };
    CanFulfillIntent { can_fulfill, slots }
}

/// Whether a filled slot of pod's model is understood, and can be fulfilled.
fn judge(slot: &str, value: &str) -> (bool, bool) {
    match slot {
        "Size" => {
            let ok = PizzaSize::parse(value).is_ok();
            (ok, ok)
        }
        "Toppings" => match Pizza::from_spoken(None, Some(value)) {
            Ok(_) => (true, true),
            Err(PizzaError::TooManyToppings { .. }) => (true, false),
            Err(_) => (false, false),
        },
        _ => {
            let digits = value
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .collect::<String>();
            let understood = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
            (understood, understood && OneTimeCode::parse(value).is_ok())
        }
    }
}

fn yes_no(yes: bool) -> CanFulfill {
    if yes { CanFulfill::Yes } else { CanFulfill::No }
}
