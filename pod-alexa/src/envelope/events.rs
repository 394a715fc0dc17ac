//! Skill events (`AlexaSkillEvent.*`): what Alexa tells a skill that
//! subscribed to them (`events.subscriptions` in the manifest) when a
//! person enables or disables it, links an account, or grants or changes
//! permissions. They arrive signed at the skill's endpoint like any
//! request, outside any session, and are answered with an empty response.
//!
//! Their shape follows Amazon's "Use Skill Events" reference: the common
//! fields, `eventCreationTime`, `eventPublishingTime`, and a `body` whose
//! fields depend on the event: `accessToken` (`SkillAccountLinked`),
//! `acceptedPermissions` and `acceptedPersonPermissions` (the permission
//! events), `userInformationPersistenceStatus` (`SkillDisabled`). The
//! person is `context.System.user.userId`, which for `SkillEnabled` and
//! `SkillDisabled` may also carry the account-linking `accessToken`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::names::SkillEventKind;
use super::request::RequestCommon;

/// An `AlexaSkillEvent.*` request of a type pod subscribes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillEventRequest {
    /// The fields every request has. Alexa may deliver an event up to an
    /// hour after its `timestamp` (see `verify`).
    pub common: RequestCommon,
    /// Which event.
    pub kind: SkillEventKind,
    /// `body`, when the event has one.
    pub body: Option<SkillEventBody>,
    /// `eventCreationTime`: when the event happened, ISO 8601.
    pub event_creation_time: Option<String>,
    /// `eventPublishingTime`: when Alexa published it, ISO 8601.
    pub event_publishing_time: Option<String>,
}

/// `body` of a skill event. Every field is optional; each event fills its own.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SkillEventBody {
    /// `accessToken` (`SkillAccountLinked`): the token account linking just
    /// issued (never in `Debug`).
    #[serde(
        rename = "accessToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub access_token: Option<String>,
    /// `acceptedPermissions`: the scopes the person granted.
    #[serde(
        rename = "acceptedPermissions",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub accepted_permissions: Vec<Permission>,
    /// `acceptedPersonPermissions`: scopes granted for a recognised person.
    #[serde(
        rename = "acceptedPersonPermissions",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub accepted_person_permissions: Vec<Permission>,
    /// `userInformationPersistenceStatus` (`SkillDisabled`): `PERSISTED`
    /// when the person may enable the skill again with the same user id,
    /// `NOT_PERSISTED` when that id is gone for good.
    #[serde(
        rename = "userInformationPersistenceStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub user_information_persistence_status: Option<String>,
}

impl fmt::Debug for SkillEventBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SkillEventBody")
            .field("access_token", &self.access_token.as_ref().map(|_| "***"))
            .field("accepted_permissions", &self.accepted_permissions)
            .field(
                "accepted_person_permissions",
                &self.accepted_person_permissions,
            )
            .field(
                "user_information_persistence_status",
                &self.user_information_persistence_status,
            )
            .finish()
    }
}

/// One granted permission: `{"scope": "alexa::profile:email:read"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    /// `scope`.
    pub scope: String,
}

impl SkillEventRequest {
    /// The account-linking token the event carries in its body
    /// (`SkillAccountLinked`); `None` when absent or empty.
    pub fn body_access_token(&self) -> Option<&str> {
        self.body
            .as_ref()
            .and_then(|b| b.access_token.as_deref())
            .filter(|t| !t.is_empty())
    }

    /// The scopes of `acceptedPermissions` and `acceptedPersonPermissions`.
    pub fn accepted_scopes(&self) -> Vec<&str> {
        self.body
            .iter()
            .flat_map(|b| {
                b.accepted_permissions
                    .iter()
                    .chain(&b.accepted_person_permissions)
            })
            .map(|p| p.scope.as_str())
            .collect()
    }
}
