//! English: en-US (the original skill's words), and the variants derived
//! from it. en-GB, en-AU and en-IN say the code was "sent to your mobile"
//! where en-US says "received in your phone"; en-CA speaks as en-US.

use pod_domain::{Channel, MAX_TOPPINGS, Pizza, PizzaError, Topping};

use super::{Texts, capitalized, listed};

pub(super) const EN_US: Texts = Texts {
    locale: "en-US",
    welcome: "Welcome to Pizza on Demand. How can I help you?",
    order_hint: ORDER_HINT,
    code_hint: CODE_HINT,
    help: "You can order a pizza by saying: get me a large pizza with pepperoni. \
        I will send a code to your phone or email, and you authorize the order by saying: authorize, followed by the code. \
        What would you like?",
    goodbye: "Goodbye.",
    order_cancelled: |pizza| {
        format!("Okay, I cancelled your order for {pizza}. Its code won't work any more. Goodbye.")
    },
    link_account: "To order pizza, please link your Pizza on Demand account. \
        I have sent a card to the Alexa app to help you do that.",
    not_understood: "Sorry, I didn't understand that. How can I help you?",
    fallback: "Sorry, Pizza on Demand can't help with that. \
        You can say: get me a large pizza with pepperoni. Or say help.",
    unknown_intent: "Sorry, I don't know how to do that. \
        You can say: get me a large pizza with pepperoni. Or say help.",
    order_received: |channel, superseded| {
        order_received(
            channel,
            superseded,
            "received in your phone",
            "received in your email",
        )
    },
    order_card_title: "Pizza order received",
    order_card: |pizza, sent_to| {
        format!(
            "{}. Code sent to {sent_to}.",
            capitalized(&pizza.to_string())
        )
    },
    order_rate_limited: "You have asked for too many codes in the last hour. Please try again later.",
    no_contact_point: "Your account has no phone number or email address that I can send a code to. \
        Please add one to your account, then order again.",
    code_not_caught: |digits| {
        format!("I didn't catch the code. Please say authorize, followed by the {digits} digits.")
    },
    confirmed: |pizza| {
        format!(
            "Order confirmed. Your {} is on its way.",
            without_article(pizza)
        )
    },
    confirmed_card_title: "Order confirmed",
    confirmed_card: |pizza| capitalized(&pizza.to_string()),
    already_confirmed: "That order is already confirmed.",
    wrong_code: |attempts_left| {
        let attempts = if attempts_left == 1 {
            "1 attempt".to_owned()
        } else {
            format!("{attempts_left} attempts")
        };
        format!("That code is not right. You have {attempts} left. {CODE_HINT}")
    },
    too_many_attempts: "That code is not right, and that was the last attempt, so I cancelled the order. \
        You can place a new one.",
    expired: "That code has expired, so I cancelled the order. Please order again to get a new code.",
    no_pending_order: "There is no order waiting for a code. You can say: get me a large pizza with pepperoni.",
    confirm_rate_limited: "Too many codes were tried just now. Please wait a minute and try again.",
    locked: "Voice ordering is locked because of too many wrong codes. \
        It unlocks by itself after a while; please try again later.",
    code_delivery_failed: "Sorry, I couldn't send your authorization code, so I cancelled the order. \
        Please try again later.",
    unavailable: "Sorry, Pizza on Demand is having trouble right now. Please try again in a few minutes.",
    too_slow: "Sorry, that is taking longer than it should. \
        If a code reaches you, say authorize, followed by the code. Otherwise, please try again in a few minutes.",
    misunderstood_pizza,
    one_moment: "One moment while I send your code.",
};

/// en-GB: "sent to your mobile" for "received in your phone".
pub(super) const EN_GB: Texts = Texts {
    locale: "en-GB",
    help: "You can order a pizza by saying: get me a large pizza with pepperoni. \
        I will send a code to your mobile or email, and you authorise the order by saying: authorise, followed by the code. \
        What would you like?",
    order_received: |channel, superseded| {
        order_received(
            channel,
            superseded,
            "sent to your mobile",
            "sent to your email",
        )
    },
    ..EN_US
};

/// en-CA: as en-US.
pub(super) const EN_CA: Texts = Texts {
    locale: "en-CA",
    ..EN_US
};

/// en-AU: as en-GB.
pub(super) const EN_AU: Texts = Texts {
    locale: "en-AU",
    ..EN_GB
};

/// en-IN: as en-GB.
pub(super) const EN_IN: Texts = Texts {
    locale: "en-IN",
    ..EN_GB
};

const ORDER_HINT: &str = "You can say: get me a large pizza with pepperoni.";
const CODE_HINT: &str = "Say authorize, followed by the code.";

/// `by_sms` / `by_email`: how the code came ("received in your phone").
fn order_received(channel: Channel, superseded: bool, by_sms: &str, by_email: &str) -> String {
    let previous = if superseded {
        "I cancelled your previous order. "
    } else {
        ""
    };
    let came = match channel {
        Channel::Sms => by_sms,
        Channel::Email => by_email,
    };
    format!(
        "{previous}I have received your pizza request. Authorize the transaction using the code {came}."
    )
}

fn misunderstood_pizza(error: &PizzaError) -> String {
    let text = match error {
        PizzaError::UnknownTopping(word) => {
            let toppings: Vec<&str> = Topping::ALL.iter().map(|t| t.name()).collect();
            format!(
                "I don't know the topping {word}. You can choose from {}.",
                listed(&toppings, "and")
            )
        }
        PizzaError::UnknownSize(word) => {
            format!("I don't know the size {word}. Pizzas come small, medium, large or jumbo.")
        }
        PizzaError::TooManyToppings { .. } => {
            format!("I can put at most {MAX_TOPPINGS} toppings on a pizza. Which would you like?")
        }
    };
    format!("{text} What would you like?")
}

/// "large pizza with pepperoni" (for "Your large pizza ... is on its way").
fn without_article(pizza: &Pizza) -> String {
    let text = pizza.to_string();
    text.strip_prefix("a ").map(str::to_owned).unwrap_or(text)
}
