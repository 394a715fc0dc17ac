//! Which pod customer an Alexa user is linked to, as learnt from Alexa's
//! skill events: `SkillAccountLinked` records a link, `SkillDisabled`
//! forgets it.

use std::fmt;

use async_trait::async_trait;
use pod_domain::{CustomerId, Timestamp};

use crate::StoreError;

/// An Alexa user id (`context.System.user.userId`, `amzn1.ask.account.…`):
/// one per person and skill, opaque and pseudonymous, but still about a
/// person, so `Debug` hides it and nothing logs it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AlexaUserId(String);

impl AlexaUserId {
    /// The longest id accepted (Amazon's are a few hundred characters).
    pub const MAX_LEN: usize = 1024;

    /// Wraps a user id as Alexa sent it; `None` when it is empty, too long
    /// or has control characters, so no store is asked about garbage.
    pub fn parse(id: &str) -> Option<Self> {
        let ok =
            !id.trim().is_empty() && id.len() <= Self::MAX_LEN && !id.chars().any(char::is_control);
        ok.then(|| AlexaUserId(id.to_owned()))
    }

    /// The id. Handle with care: never log it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AlexaUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AlexaUserId(****)")
    }
}

/// Keeps the links between Alexa users and pod customers.
///
/// Alexa may deliver a skill event late and more than once, so a link
/// carries the time it was made, and an older link never replaces a newer
/// one.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait AlexaLinks: Send + Sync {
    /// Records that `alexa_user` is linked to `customer` as of `at`,
    /// replacing an earlier link of the same Alexa user, and doing nothing
    /// when the stored link is newer than `at`. Idempotent.
    ///
    /// Errors: [`StoreError::Unavailable`] when the database failed.
    async fn link(
        &self,
        alexa_user: &AlexaUserId,
        customer: &CustomerId,
        at: Timestamp,
    ) -> Result<(), StoreError>;

    /// Forgets `alexa_user`'s link, in one step; returns the customer it
    /// was linked to, `None` when there was no link.
    ///
    /// Errors: [`StoreError::Unavailable`] when the database failed,
    /// [`StoreError::Corrupt`] when the stored customer id is not one.
    async fn forget(&self, alexa_user: &AlexaUserId) -> Result<Option<CustomerId>, StoreError>;

    /// The customer `alexa_user` is linked to, if any.
    ///
    /// Errors: as [`AlexaLinks::forget`].
    async fn customer_of(&self, alexa_user: &AlexaUserId)
    -> Result<Option<CustomerId>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_screened_and_hidden() {
        let id = AlexaUserId::parse("amzn1.ask.account.SECRET").unwrap();
        assert_eq!(id.as_str(), "amzn1.ask.account.SECRET");
        assert!(!format!("{id:?}").contains("SECRET"));
        for bad in ["", "  ", "a\nb", "a\u{0}", &"a".repeat(1025)] {
            assert!(AlexaUserId::parse(bad).is_none(), "{bad:?}");
        }
    }
}
