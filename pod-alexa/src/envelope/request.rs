//! The `request` object of an envelope: one of the request types, told apart
//! by its `type` field.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::can_fulfill::CanFulfillIntentRequest;
use super::events::{SkillEventBody, SkillEventRequest};
use super::names::{
    ConfirmationStatus, DialogState, ErrorType, IntentName, ResolutionCode, SessionEndedReason,
    SkillEventKind,
};

/// `LaunchRequest`.
pub const LAUNCH_REQUEST: &str = "LaunchRequest";
/// `IntentRequest`.
pub const INTENT_REQUEST: &str = "IntentRequest";
/// `SessionEndedRequest`.
pub const SESSION_ENDED_REQUEST: &str = "SessionEndedRequest";
/// `System.ExceptionEncountered`.
pub const EXCEPTION_ENCOUNTERED: &str = "System.ExceptionEncountered";
/// `CanFulfillIntentRequest`.
pub const CAN_FULFILL_INTENT_REQUEST: &str = "CanFulfillIntentRequest";

/// What every request carries, whatever its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCommon {
    /// `requestId`: unique per request (`amzn1.echo-api.request.…`).
    pub request_id: Option<String>,
    /// `timestamp`: when Alexa sent it, ISO 8601 (`2026-11-24T21:30:00Z`).
    /// Required: verification rejects a request without one.
    pub timestamp: String,
    /// `locale`, e.g. `en-US`.
    pub locale: Option<String>,
}

impl RequestCommon {
    /// The common fields of a request sent at `timestamp`.
    pub fn new(
        request_id: impl Into<String>,
        timestamp: impl Into<String>,
        locale: impl Into<String>,
    ) -> Self {
        RequestCommon {
            request_id: Some(request_id.into()),
            timestamp: timestamp.into(),
            locale: Some(locale.into()),
        }
    }
}

/// The request: one variant per request type pod answers, and
/// [`Request::Unsupported`] for every other type (its name kept).
///
/// Serialized and deserialized as Alexa's flat object with a `type` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `LaunchRequest`: "open pizza on demand".
    Launch(LaunchRequest),
    /// `IntentRequest`: the person asked for something.
    Intent(IntentRequest),
    /// `SessionEndedRequest`: the session ended; no speech may answer it.
    SessionEnded(SessionEndedRequest),
    /// `System.ExceptionEncountered`: Alexa could not use the skill's last
    /// answer; no speech may answer it.
    ExceptionEncountered(ExceptionEncounteredRequest),
    /// `CanFulfillIntentRequest`: could the skill fulfil this intent
    /// (name-free interaction)? Answered without side effects.
    CanFulfillIntent(CanFulfillIntentRequest),
    /// `AlexaSkillEvent.*`: the skill was enabled or disabled, an account
    /// linked, permissions granted or changed. Answered with an empty
    /// response.
    SkillEvent(SkillEventRequest),
    /// Any other request type (`AudioPlayer.*`, `Messaging.*`, …).
    Unsupported(UnsupportedRequest),
}

/// `LaunchRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchRequest {
    /// The fields every request has.
    pub common: RequestCommon,
}

/// `IntentRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentRequest {
    /// The fields every request has.
    pub common: RequestCommon,
    /// `dialogState`, when the intent has a dialog model.
    pub dialog_state: Option<DialogState>,
    /// `intent`. Alexa always sends one; a request without it is still
    /// parsed, so the skill can ask again instead of refusing it.
    pub intent: Option<Intent>,
}

/// `SessionEndedRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEndedRequest {
    /// The fields every request has.
    pub common: RequestCommon,
    /// `reason`.
    pub reason: Option<SessionEndedReason>,
    /// `error`, when the reason is `ERROR`.
    pub error: Option<RequestError>,
}

/// `System.ExceptionEncountered`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionEncounteredRequest {
    /// The fields every request has.
    pub common: RequestCommon,
    /// `error`: what went wrong.
    pub error: Option<RequestError>,
    /// `cause`: the request whose answer failed.
    pub cause: Option<ExceptionCause>,
}

/// A request of a type pod does not handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedRequest {
    /// Its `type`, as sent.
    pub kind: String,
    /// The fields every request has.
    pub common: RequestCommon,
}

/// `error` of a `SessionEndedRequest` or `System.ExceptionEncountered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestError {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: ErrorType,
    /// `message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `cause` of a `System.ExceptionEncountered` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionCause {
    /// `requestId` of the request whose answer failed.
    #[serde(rename = "requestId", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// An intent with its slots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// `name`.
    pub name: IntentName,
    /// `confirmationStatus`.
    #[serde(
        rename = "confirmationStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub confirmation_status: Option<ConfirmationStatus>,
    /// `slots`, by slot name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slots: BTreeMap<String, Slot>,
}

/// One slot of an intent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Slot {
    /// `name` (the same as its key in `slots`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `value`: what Alexa heard, absent when the person did not fill it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `confirmationStatus`.
    #[serde(
        rename = "confirmationStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub confirmation_status: Option<ConfirmationStatus>,
    /// `resolutions`: entity resolution against the slot type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolutions: Option<Resolutions>,
}

/// `resolutions` of a slot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Resolutions {
    /// `resolutionsPerAuthority`.
    #[serde(rename = "resolutionsPerAuthority", default)]
    pub per_authority: Vec<Resolution>,
}

/// Entity resolution by one authority (usually the skill's slot type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// `authority`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ResolutionStatus>,
    /// `values`: the canonical values matched, best first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<ResolvedValueWrapper>,
}

/// `status` of a resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolutionStatus {
    /// `code`.
    pub code: ResolutionCode,
}

/// One item of `values` (Alexa wraps each value in an object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedValueWrapper {
    /// `value`.
    pub value: ResolvedValue,
}

/// A canonical slot value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedValue {
    /// `name`: the canonical value.
    pub name: String,
    /// `id`, when the slot type gives its values ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl Request {
    /// The fields every request has.
    pub fn common(&self) -> &RequestCommon {
        match self {
            Request::Launch(r) => &r.common,
            Request::Intent(r) => &r.common,
            Request::SessionEnded(r) => &r.common,
            Request::ExceptionEncountered(r) => &r.common,
            Request::CanFulfillIntent(r) => &r.common,
            Request::SkillEvent(r) => &r.common,
            Request::Unsupported(r) => &r.common,
        }
    }

    /// Mutable access to the fields every request has.
    pub fn common_mut(&mut self) -> &mut RequestCommon {
        match self {
            Request::Launch(r) => &mut r.common,
            Request::Intent(r) => &mut r.common,
            Request::SessionEnded(r) => &mut r.common,
            Request::ExceptionEncountered(r) => &mut r.common,
            Request::CanFulfillIntent(r) => &mut r.common,
            Request::SkillEvent(r) => &mut r.common,
            Request::Unsupported(r) => &mut r.common,
        }
    }

    /// The request's `type`, as Alexa spells it.
    pub fn type_name(&self) -> &str {
        match self {
            Request::Launch(_) => LAUNCH_REQUEST,
            Request::Intent(_) => INTENT_REQUEST,
            Request::SessionEnded(_) => SESSION_ENDED_REQUEST,
            Request::ExceptionEncountered(_) => EXCEPTION_ENCOUNTERED,
            Request::CanFulfillIntent(_) => CAN_FULFILL_INTENT_REQUEST,
            Request::SkillEvent(r) => r.kind.as_str(),
            Request::Unsupported(r) => &r.kind,
        }
    }

    /// `requestId`.
    pub fn request_id(&self) -> Option<&str> {
        self.common().request_id.as_deref()
    }

    /// `timestamp`, as sent.
    pub fn timestamp(&self) -> &str {
        &self.common().timestamp
    }

    /// The intent of an `IntentRequest` or a `CanFulfillIntentRequest`.
    pub fn intent(&self) -> Option<&Intent> {
        match self {
            Request::Intent(r) => r.intent.as_ref(),
            Request::CanFulfillIntent(r) => r.intent.as_ref(),
            _ => None,
        }
    }

    /// Whether this is a skill event (`AlexaSkillEvent.*` of a type pod
    /// knows), which Alexa may deliver up to an hour late.
    pub fn is_skill_event(&self) -> bool {
        matches!(self, Request::SkillEvent(_))
    }
}

impl Intent {
    /// An intent without slots (confirmation status `NONE`).
    pub fn new(name: impl Into<IntentName>) -> Self {
        Intent {
            name: name.into(),
            confirmation_status: Some(ConfirmationStatus::None),
            slots: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) a slot; its `name` is set to `name`.
    pub fn with_slot(mut self, name: impl Into<String>, mut slot: Slot) -> Self {
        let name = name.into();
        slot.name = Some(name.clone());
        self.slots.insert(name, slot);
        self
    }

    /// What the person said for a slot: the entity-resolution match when
    /// Alexa found one (the canonical value of a synonym), else the raw
    /// value; trimmed, and `None` when empty.
    pub fn slot(&self, name: &str) -> Option<&str> {
        let slot = self.slots.get(name)?;
        slot.resolved()
            .or(slot.value.as_deref())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }
}

impl Slot {
    /// A slot filled with what Alexa heard (confirmation status `NONE`).
    pub fn heard(value: impl Into<String>) -> Self {
        Slot {
            name: None,
            value: Some(value.into()),
            confirmation_status: Some(ConfirmationStatus::None),
            resolutions: None,
        }
    }

    /// Adds the entity-resolution result of `authority`: `canonical` when
    /// the value matched the slot type (`ER_SUCCESS_MATCH`, with `id`), or
    /// `ER_SUCCESS_NO_MATCH` when `canonical` is `None`.
    pub fn with_resolution(
        mut self,
        authority: impl Into<String>,
        canonical: Option<(String, String)>,
    ) -> Self {
        let (code, values) = match canonical {
            Some((name, id)) => (
                ResolutionCode::SuccessMatch,
                vec![ResolvedValueWrapper {
                    value: ResolvedValue { name, id: Some(id) },
                }],
            ),
            None => (ResolutionCode::SuccessNoMatch, Vec::new()),
        };
        self.resolutions
            .get_or_insert_with(Resolutions::default)
            .per_authority
            .push(Resolution {
                authority: Some(authority.into()),
                status: Some(ResolutionStatus { code }),
                values,
            });
        self
    }

    /// The canonical value of the first authority that matched.
    pub fn resolved(&self) -> Option<&str> {
        self.resolutions.as_ref().and_then(|r| {
            r.per_authority
                .iter()
                .filter(|a| {
                    a.status
                        .as_ref()
                        .is_some_and(|s| s.code == ResolutionCode::SuccessMatch)
                })
                .find_map(|a| a.values.first())
                .map(|v| v.value.name.as_str())
        })
    }
}

/// The request object as Alexa sends it: the type, the common fields and
/// every type's own fields, each optional. One pass over the JSON, then
/// [`Request`] is built from the type.
#[derive(Deserialize)]
struct RawRequest {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "requestId", default)]
    request_id: Option<String>,
    timestamp: String,
    #[serde(default)]
    locale: Option<String>,
    #[serde(rename = "dialogState", default)]
    dialog_state: Option<DialogState>,
    #[serde(default)]
    intent: Option<Intent>,
    #[serde(default)]
    reason: Option<SessionEndedReason>,
    #[serde(default)]
    error: Option<RequestError>,
    #[serde(default)]
    cause: Option<ExceptionCause>,
    #[serde(default)]
    body: Option<SkillEventBody>,
    #[serde(rename = "eventCreationTime", default)]
    event_creation_time: Option<String>,
    #[serde(rename = "eventPublishingTime", default)]
    event_publishing_time: Option<String>,
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawRequest::deserialize(deserializer)?;
        let common = RequestCommon {
            request_id: raw.request_id,
            timestamp: raw.timestamp,
            locale: raw.locale,
        };
        Ok(match raw.kind.as_str() {
            LAUNCH_REQUEST => Request::Launch(LaunchRequest { common }),
            INTENT_REQUEST => Request::Intent(IntentRequest {
                common,
                dialog_state: raw.dialog_state,
                intent: raw.intent,
            }),
            SESSION_ENDED_REQUEST => Request::SessionEnded(SessionEndedRequest {
                common,
                reason: raw.reason,
                error: raw.error,
            }),
            EXCEPTION_ENCOUNTERED => Request::ExceptionEncountered(ExceptionEncounteredRequest {
                common,
                error: raw.error,
                cause: raw.cause,
            }),
            CAN_FULFILL_INTENT_REQUEST => Request::CanFulfillIntent(CanFulfillIntentRequest {
                common,
                dialog_state: raw.dialog_state,
                intent: raw.intent,
            }),
            _ => match SkillEventKind::from(raw.kind) {
                SkillEventKind::Other(kind) => {
                    Request::Unsupported(UnsupportedRequest { kind, common })
                }
                kind => Request::SkillEvent(SkillEventRequest {
                    common,
                    kind,
                    body: raw.body,
                    event_creation_time: raw.event_creation_time,
                    event_publishing_time: raw.event_publishing_time,
                }),
            },
        })
    }
}

/// The request object to write: borrowed, absent fields left out.
#[derive(Serialize)]
struct RawRequestRef<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    timestamp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    locale: Option<&'a str>,
    #[serde(rename = "dialogState", skip_serializing_if = "Option::is_none")]
    dialog_state: Option<&'a DialogState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    intent: Option<&'a Intent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a SessionEndedReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RequestError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<&'a ExceptionCause>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a SkillEventBody>,
    #[serde(rename = "eventCreationTime", skip_serializing_if = "Option::is_none")]
    event_creation_time: Option<&'a str>,
    #[serde(
        rename = "eventPublishingTime",
        skip_serializing_if = "Option::is_none"
    )]
    event_publishing_time: Option<&'a str>,
}

impl Serialize for Request {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let common = self.common();
        let mut raw = RawRequestRef {
            kind: self.type_name(),
            request_id: common.request_id.as_deref(),
            timestamp: &common.timestamp,
            locale: common.locale.as_deref(),
            dialog_state: None,
            intent: None,
            reason: None,
            error: None,
            cause: None,
            body: None,
            event_creation_time: None,
            event_publishing_time: None,
        };
        match self {
            Request::Intent(r) => {
                raw.dialog_state = r.dialog_state.as_ref();
                raw.intent = r.intent.as_ref();
            }
            Request::SessionEnded(r) => {
                raw.reason = r.reason.as_ref();
                raw.error = r.error.as_ref();
            }
            Request::ExceptionEncountered(r) => {
                raw.error = r.error.as_ref();
                raw.cause = r.cause.as_ref();
            }
            Request::CanFulfillIntent(r) => {
                raw.dialog_state = r.dialog_state.as_ref();
                raw.intent = r.intent.as_ref();
            }
            Request::SkillEvent(r) => {
                raw.body = r.body.as_ref();
                raw.event_creation_time = r.event_creation_time.as_deref();
                raw.event_publishing_time = r.event_publishing_time.as_deref();
            }
            Request::Launch(_) | Request::Unsupported(_) => {}
        }
        raw.serialize(serializer)
    }
}
