//! Every word the skill says, one catalogue per locale: [`Texts`], chosen
//! by the request's `locale` with [`for_locale`] (en-US when the locale is
//! missing or not one of [`LOCALES`]). The handlers in `skill.rs` decide
//! what to say; the catalogue says it.
//!
//! - `en`: en-US, and the variants derived from it (en-GB, en-CA, en-AU,
//!   en-IN);
//! - `de`: de-DE.

mod de;
mod en;
#[cfg(test)]
mod tests;

use pod_domain::{Channel, Pizza, PizzaError};

/// The locales the skill speaks, with their catalogues; the first is the
/// default.
pub(crate) static CATALOGUE: [&Texts; 6] = [
    &en::EN_US,
    &en::EN_GB,
    &en::EN_CA,
    &en::EN_AU,
    &en::EN_IN,
    &de::DE_DE,
];

/// The locales of [`CATALOGUE`], as Alexa spells them.
#[cfg(test)]
pub(crate) const LOCALES: [&str; 6] = ["en-US", "en-GB", "en-CA", "en-AU", "en-IN", "de-DE"];

/// The catalogue for a request's `locale` (`en-US`, `de-DE`; case and `_`
/// for `-` do not matter); en-US for any other or an empty one.
pub(crate) fn for_locale(locale: &str) -> &'static Texts {
    let wanted = locale.trim().replace('_', "-");
    CATALOGUE
        .iter()
        .copied()
        .find(|texts| texts.locale.eq_ignore_ascii_case(&wanted))
        .unwrap_or(CATALOGUE[0])
}

/// What the skill says in one locale. Plain texts are fields; texts with
/// something in them (a pizza, where the code went, attempts left) are
/// functions of it.
pub(crate) struct Texts {
    /// The locale, e.g. `en-US`.
    pub(crate) locale: &'static str,
    /// Answer to "open pizza on demand".
    pub(crate) welcome: &'static str,
    /// The reprompt while nothing is ordered: how to order.
    pub(crate) order_hint: &'static str,
    /// The reprompt while a code is awaited: how to say it.
    pub(crate) code_hint: &'static str,
    /// `AMAZON.HelpIntent`.
    pub(crate) help: &'static str,
    /// Stop, cancel (with no order waiting), navigate home.
    pub(crate) goodbye: &'static str,
    /// "Cancel my order": the order waiting for its code is cancelled.
    pub(crate) order_cancelled: fn(pizza: &Pizza) -> String,
    /// No linked account (with the LinkAccount card).
    pub(crate) link_account: &'static str,
    /// An intent request without an intent.
    pub(crate) not_understood: &'static str,
    /// `AMAZON.FallbackIntent`.
    pub(crate) fallback: &'static str,
    /// An intent the skill does not know.
    pub(crate) unknown_intent: &'static str,
    /// The order was placed; the code went out by `channel`. `superseded`:
    /// a pending order was cancelled for it.
    pub(crate) order_received: fn(channel: Channel, superseded: bool) -> String,
    /// The card's title after an order.
    pub(crate) order_card_title: &'static str,
    /// The card after an order: the pizza and the masked destination.
    pub(crate) order_card: fn(pizza: &Pizza, sent_to: &str) -> String,
    /// Too many order codes this hour.
    pub(crate) order_rate_limited: &'static str,
    /// No phone number or email to send a code to.
    pub(crate) no_contact_point: &'static str,
    /// What was heard is not a code of `digits` digits.
    pub(crate) code_not_caught: fn(digits: u32) -> String,
    /// The order is confirmed.
    pub(crate) confirmed: fn(pizza: &Pizza) -> String,
    /// The card's title after a confirmation.
    pub(crate) confirmed_card_title: &'static str,
    /// The card after a confirmation.
    pub(crate) confirmed_card: fn(pizza: &Pizza) -> String,
    /// The code was for an order already confirmed.
    pub(crate) already_confirmed: &'static str,
    /// A wrong code, `attempts_left` more allowed.
    pub(crate) wrong_code: fn(attempts_left: u32) -> String,
    /// A wrong code that was the last attempt.
    pub(crate) too_many_attempts: &'static str,
    /// The code expired.
    pub(crate) expired: &'static str,
    /// A code, but no order waits for one.
    pub(crate) no_pending_order: &'static str,
    /// Too many codes tried at once.
    pub(crate) confirm_rate_limited: &'static str,
    /// The account is locked.
    pub(crate) locked: &'static str,
    /// The code could not be delivered; the order is cancelled.
    pub(crate) code_delivery_failed: &'static str,
    /// Something failed on pod's side.
    pub(crate) unavailable: &'static str,
    /// The apology when the answer is not ready in time: the order may
    /// still go through (its code then arrives), or it is cancelled.
    pub(crate) too_slow: &'static str,
    /// The size or toppings were not understood.
    pub(crate) misunderstood_pizza: fn(error: &PizzaError) -> String,
    /// The progressive response while an order's code is being sent
    /// (plain text; it goes out as SSML).
    pub(crate) one_moment: &'static str,
}

/// "Eine große Pizza" from "eine große Pizza".
pub(super) fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// "a, b and c" with the language's "and".
pub(super) fn listed(items: &[&str], and: &str) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} {and} {last}", init.join(", ")),
    }
}
