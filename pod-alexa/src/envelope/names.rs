//! The string values of Alexa's format that pod tells apart: intent names,
//! dialog and confirmation states, reasons and codes. Each is an enum of the
//! values pod knows plus `Other`, which keeps any other value as sent, so a
//! value Amazon adds tomorrow still parses and serializes back unchanged.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Defines an enum over known string values with an `Other(String)`
/// catch-all, and its `as_str`, `From<&str>`, `From<String>`, `Display`,
/// `Serialize` and `Deserialize` (a JSON string either way).
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        ///
        /// Build one from a string with `From`, which picks the known
        /// variant when there is one: `Other` never holds a known value
        /// unless built by hand.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// Any other value, kept as sent.
            Other(String),
        }

        impl $name {
            /// The value as Alexa spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )*
                    Self::Other(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $( $text => Self::$variant, )*
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                match text.as_str() {
                    $( $text => Self::$variant, )*
                    _ => Self::Other(text),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(StrVisitor::<$name>::new(stringify!($name)))
            }
        }
    };
}

/// Deserializes a string into any `From<&str> + From<String>` type without
/// an allocation for the known values.
struct StrVisitor<T> {
    expecting: &'static str,
    into: std::marker::PhantomData<T>,
}

impl<T> StrVisitor<T> {
    fn new(expecting: &'static str) -> Self {
        StrVisitor {
            expecting,
            into: std::marker::PhantomData,
        }
    }
}

impl<T: for<'a> From<&'a str> + From<String>> Visitor<'_> for StrVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a string ({})", self.expecting)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        Ok(T::from(text))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<T, E> {
        Ok(T::from(text))
    }
}

string_enum! {
    /// The name of an intent: the intents of pod's interaction model and the
    /// built-in intents it answers.
    pub enum IntentName {
        /// "get me a large pizza with pepperoni": slots `Size`, `Toppings`.
        GetMeSomePizza => "GetMeSomePizzaIntent",
        /// "authorize one two three four": slot `Code`.
        AuthorizePizzaOrder => "AuthorizePizzaOrderIntent",
        /// `AMAZON.HelpIntent`.
        Help => "AMAZON.HelpIntent",
        /// `AMAZON.StopIntent`.
        Stop => "AMAZON.StopIntent",
        /// `AMAZON.CancelIntent`.
        Cancel => "AMAZON.CancelIntent",
        /// `AMAZON.FallbackIntent`: what Alexa sends when nothing matched.
        Fallback => "AMAZON.FallbackIntent",
        /// `AMAZON.NavigateHomeIntent`.
        NavigateHome => "AMAZON.NavigateHomeIntent",
    }
}

string_enum! {
    /// `request.dialogState` of an `IntentRequest` in a multi-turn dialog.
    pub enum DialogState {
        /// `STARTED`.
        Started => "STARTED",
        /// `IN_PROGRESS`.
        InProgress => "IN_PROGRESS",
        /// `COMPLETED`.
        Completed => "COMPLETED",
    }
}

string_enum! {
    /// Whether the person confirmed an intent or a slot value.
    pub enum ConfirmationStatus {
        /// `NONE`: no confirmation asked.
        None => "NONE",
        /// `CONFIRMED`.
        Confirmed => "CONFIRMED",
        /// `DENIED`.
        Denied => "DENIED",
    }
}

string_enum! {
    /// Why a session ended (`SessionEndedRequest.reason`).
    pub enum SessionEndedReason {
        /// `USER_INITIATED`: the person said "exit".
        UserInitiated => "USER_INITIATED",
        /// `ERROR`: see the request's `error`.
        Error => "ERROR",
        /// `EXCEEDED_MAX_REPROMPTS`: the person did not answer.
        ExceededMaxReprompts => "EXCEEDED_MAX_REPROMPTS",
    }
}

string_enum! {
    /// The kind of error in a `SessionEndedRequest` or a
    /// `System.ExceptionEncountered` request.
    pub enum ErrorType {
        /// `INVALID_RESPONSE`: the skill's answer was malformed.
        InvalidResponse => "INVALID_RESPONSE",
        /// `DEVICE_COMMUNICATION_ERROR`.
        DeviceCommunicationError => "DEVICE_COMMUNICATION_ERROR",
        /// `INTERNAL_SERVICE_ERROR`.
        InternalServiceError => "INTERNAL_SERVICE_ERROR",
        /// `ENDPOINT_TIMEOUT`: the skill took too long.
        EndpointTimeout => "ENDPOINT_TIMEOUT",
    }
}

string_enum! {
    /// The outcome of entity resolution for one authority.
    pub enum ResolutionCode {
        /// `ER_SUCCESS_MATCH`: the value is a value or synonym of the slot type.
        SuccessMatch => "ER_SUCCESS_MATCH",
        /// `ER_SUCCESS_NO_MATCH`: it is not.
        SuccessNoMatch => "ER_SUCCESS_NO_MATCH",
        /// `ER_ERROR_TIMEOUT`.
        ErrorTimeout => "ER_ERROR_TIMEOUT",
        /// `ER_ERROR_EXCEPTION`.
        ErrorException => "ER_ERROR_EXCEPTION",
    }
}

string_enum! {
    /// The type of a skill event (`AlexaSkillEvent.*`) pod subscribes to.
    pub enum SkillEventKind {
        /// `AlexaSkillEvent.SkillEnabled`: a person enabled the skill.
        Enabled => "AlexaSkillEvent.SkillEnabled",
        /// `AlexaSkillEvent.SkillDisabled`: a person disabled the skill.
        Disabled => "AlexaSkillEvent.SkillDisabled",
        /// `AlexaSkillEvent.SkillAccountLinked`: account linking completed;
        /// the body carries the new access token.
        AccountLinked => "AlexaSkillEvent.SkillAccountLinked",
        /// `AlexaSkillEvent.SkillPermissionAccepted`: permissions granted.
        PermissionAccepted => "AlexaSkillEvent.SkillPermissionAccepted",
        /// `AlexaSkillEvent.SkillPermissionChanged`: the granted permissions changed.
        PermissionChanged => "AlexaSkillEvent.SkillPermissionChanged",
    }
}

string_enum! {
    /// An answer of a `CanFulfillIntentRequest`: `canFulfill` of the
    /// intent (`YES`, `NO`, `MAYBE`), and `canUnderstand` (`YES`, `NO`,
    /// `MAYBE`) and `canFulfill` (`YES`, `NO`) of each slot.
    pub enum CanFulfill {
        /// `YES`.
        Yes => "YES",
        /// `NO`.
        No => "NO",
        /// `MAYBE`: partly, or only after something more (such as account linking).
        Maybe => "MAYBE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_get_their_variant_and_others_are_kept() {
        assert_eq!(
            IntentName::from("GetMeSomePizzaIntent"),
            IntentName::GetMeSomePizza
        );
        assert_eq!(IntentName::from("AMAZON.StopIntent"), IntentName::Stop);
        let other = IntentName::from("OrderCoffeeIntent".to_owned());
        assert_eq!(other, IntentName::Other("OrderCoffeeIntent".into()));
        assert_eq!(other.as_str(), "OrderCoffeeIntent");
        assert_eq!(IntentName::Help.to_string(), "AMAZON.HelpIntent");
        for name in [IntentName::Cancel, other] {
            let json = serde_json::to_string(&name).unwrap();
            assert_eq!(serde_json::from_str::<IntentName>(&json).unwrap(), name);
        }
        assert!(serde_json::from_str::<DialogState>("3").is_err());
        assert_eq!(
            serde_json::from_str::<ResolutionCode>("\"ER_SUCCESS_MATCH\"").unwrap(),
            ResolutionCode::SuccessMatch
        );
    }
}
