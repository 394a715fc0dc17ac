use std::fmt;

use async_trait::async_trait;
use pod_domain::{CodeCheck, CodeDigest, CustomerId, Destination, OrderId};

/// A one-time code as spoken or typed: 4 to 8 ASCII digits. Its `Debug`
/// output hides the digits so that a code never reaches a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

/// A spoken code that is not 4 to 8 digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a code is 4 to 8 digits")]
pub struct InvalidCode;

impl OneTimeCode {
    /// Accepts 4 to 8 ASCII digits, ignoring surrounding whitespace and the
    /// spaces or dashes Alexa or a person may put between digits.
    pub fn parse(spoken: &str) -> Result<Self, InvalidCode> {
        let digits: String = spoken
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if (4..=8).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(OneTimeCode(digits))
        } else {
            Err(InvalidCode)
        }
    }

    /// The digits. Handle with care: never log them.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode(****)")
    }
}

/// What a code is for; codes for different purposes never check each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodePurpose {
    /// Confirming this order by voice or through the API.
    ConfirmOrder(OrderId),
    /// Signing in to the web app.
    SignIn,
}

impl CodePurpose {
    /// `order` or `sign_in`: the key a code store files codes under.
    pub fn kind(&self) -> &'static str {
        match self {
            CodePurpose::ConfirmOrder(_) => "order",
            CodePurpose::SignIn => "sign_in",
        }
    }
}

/// Why a code could not be sent or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// The code provider refused because of its own rate limit.
    #[error("the code provider is rate limiting")]
    RateLimited,
    /// The code could not be delivered (SMS gateway, mail server).
    #[error("code delivery failed: {0}")]
    DeliveryFailed(String),
    /// The code provider failed, timed out or answered nonsense.
    #[error("code provider unavailable: {0}")]
    Unavailable(String),
}

/// A code just drawn for a purpose: what the account keeps, and what goes
/// to the customer. Its `Debug` shows no code: [`OneTimeCode`]'s is redacted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCode {
    /// The digest the account keeps, when pod checks codes itself; `None`
    /// when the provider keeps and checks its own codes (Auth0).
    pub digest: Option<CodeDigest>,
    /// The code to deliver, when pod draws codes itself.
    pub code: Option<OneTimeCode>,
}

/// Draws, delivers and compares one-time codes. It keeps no state of its
/// own about attempts or expiry: the [`Account`](pod_domain::Account) does,
/// so that every rule is decided in one atomic step.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait OneTimeCodes: Send + Sync {
    /// Draws a fresh code for `purpose`, before the account change that
    /// records it is committed.
    fn issue(&self, customer: &CustomerId, purpose: &CodePurpose) -> NewCode;

    /// Sends the code to `destination`, after the change that records it is
    /// committed (so a code never arrives for an order that is not stored).
    async fn deliver(
        &self,
        customer: &CustomerId,
        destination: &Destination,
        purpose: &CodePurpose,
        code: &NewCode,
    ) -> Result<(), CodeError>;

    /// Compares a spoken code with the one issued for `purpose`, whose
    /// digest the account kept (`None` when the provider checks). Never
    /// called while the account refuses checks.
    /// [`CodeCheck::Invalid`] for a wrong code; a provider may also answer
    /// [`CodeCheck::Expired`] or [`CodeCheck::Locked`].
    async fn check(
        &self,
        customer: &CustomerId,
        destination: &Destination,
        purpose: &CodePurpose,
        digest: Option<CodeDigest>,
        spoken: &OneTimeCode,
    ) -> Result<CodeCheck, CodeError>;
}

/// Draws codes where pod makes them itself (the embedded mode).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait CodeGenerator: Send + Sync {
    /// A uniformly random code of `digits` digits (4 to 8).
    fn generate(&self, digits: u32) -> OneTimeCode;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_four_to_eight_digits() {
        assert_eq!(OneTimeCode::parse(" 1234 ").unwrap().expose(), "1234");
        assert_eq!(OneTimeCode::parse("12 34-56").unwrap().expose(), "123456");
        for bad in ["", "123", "123456789", "12a4", "١٢٣٤", "?"] {
            assert_eq!(OneTimeCode::parse(bad), Err(InvalidCode), "{bad}");
        }
        assert!(!format!("{:?}", OneTimeCode::parse("9876").unwrap()).contains("9876"));
    }
}
