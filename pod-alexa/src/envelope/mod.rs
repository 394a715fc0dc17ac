//! Alexa's request and response envelopes for a custom skill, typed.
//!
//! [`RequestEnvelope`] is what Alexa posts to the skill: `version`,
//! `session`, `context` and the [`Request`] itself, an enum over the request
//! types (`LaunchRequest`, `IntentRequest`, `SessionEndedRequest`,
//! `System.ExceptionEncountered`, `CanFulfillIntentRequest`, the skill
//! events `AlexaSkillEvent.*`, and [`Request::Unsupported`] for the rest). [`ResponseEnvelope`] is the answer: speech, a card, a reprompt,
//! whether the session ends. Both serialize and deserialize, so the skill
//! reads requests and writes responses, and pod's simulator writes requests
//! and reads responses, with the same types.
//!
//! The field names follow Amazon's "Request and Response JSON Reference".
//! Unknown fields are ignored; what Amazon's format may leave out is an
//! `Option` here, except `request.type` and `request.timestamp`, which every
//! request has. Credentials (`accessToken`, `apiAccessToken`) never appear
//! in `Debug` output.

mod can_fulfill;
mod events;
mod names;
mod request;
mod response;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use can_fulfill::{CanFulfillIntent, CanFulfillIntentRequest, CanFulfillSlot};
pub use events::{Permission, SkillEventBody, SkillEventRequest};
pub use names::{
    CanFulfill, ConfirmationStatus, DialogState, ErrorType, IntentName, ResolutionCode,
    SessionEndedReason, SkillEventKind,
};
pub use request::{
    CAN_FULFILL_INTENT_REQUEST, EXCEPTION_ENCOUNTERED, ExceptionCause, ExceptionEncounteredRequest,
    INTENT_REQUEST, Intent, IntentRequest, LAUNCH_REQUEST, LaunchRequest, Request, RequestCommon,
    RequestError, Resolution, ResolutionStatus, Resolutions, ResolvedValue, ResolvedValueWrapper,
    SESSION_ENDED_REQUEST, SessionEndedRequest, Slot, UnsupportedRequest,
};
pub use response::{Card, MAX_SPEECH_CHARS, OutputSpeech, Reprompt, Response, ResponseEnvelope};

/// The envelope version Alexa sends and expects: `1.0`.
pub const VERSION: &str = "1.0";

fn version() -> String {
    VERSION.to_owned()
}

/// An Alexa request envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestEnvelope {
    /// `version` (`1.0`; taken as `1.0` when absent).
    #[serde(default = "version")]
    pub version: String,
    /// `session`: present for requests inside a skill session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
    /// `context`: the device, the user and the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    /// `request`.
    pub request: Request,
}

/// `session`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Session {
    /// `new`: the first request of the session.
    #[serde(default)]
    pub new: bool,
    /// `sessionId`.
    #[serde(rename = "sessionId", default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// `application`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<Application>,
    /// `attributes`: what the skill put in `sessionAttributes` last turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Map<String, Value>>,
    /// `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
}

/// `context`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Context {
    /// `System`.
    #[serde(rename = "System", default, skip_serializing_if = "Option::is_none")]
    pub system: Option<System>,
}

/// `context.System`.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct System {
    /// `application`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<Application>,
    /// `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// `device`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
    /// `apiEndpoint`: the Alexa API host for this user's region.
    #[serde(
        rename = "apiEndpoint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_endpoint: Option<String>,
    /// `apiAccessToken`: a credential for the Alexa APIs (never in `Debug`).
    #[serde(
        rename = "apiAccessToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_access_token: Option<String>,
}

impl fmt::Debug for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("System")
            .field("application", &self.application)
            .field("user", &self.user)
            .field("device", &self.device)
            .field("api_endpoint", &self.api_endpoint)
            .field("api_access_token", &redacted(&self.api_access_token))
            .finish()
    }
}

/// `application`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Application {
    /// `applicationId`: the skill id, `amzn1.ask.skill.…`.
    #[serde(
        rename = "applicationId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub application_id: Option<String>,
}

impl Application {
    /// The application with skill id `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Application {
            application_id: Some(id.into()),
        }
    }
}

/// `user`, in `session` and in `context.System`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct User {
    /// `userId`: the Alexa account, per skill.
    #[serde(rename = "userId", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// `accessToken`: the account-linking token (never in `Debug`).
    #[serde(
        rename = "accessToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub access_token: Option<String>,
}

impl fmt::Debug for User {
    // The access token is a credential: never in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("user_id", &self.user_id)
            .field("access_token", &redacted(&self.access_token))
            .finish()
    }
}

fn redacted(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "***")
}

/// `context.System.device`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Device {
    /// `deviceId`.
    #[serde(rename = "deviceId", default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// `supportedInterfaces`: interface name → its properties.
    #[serde(rename = "supportedInterfaces", default)]
    pub supported_interfaces: Map<String, Value>,
}

impl RequestEnvelope {
    /// An envelope (version `1.0`) around `request`, without session or
    /// context.
    pub fn new(request: Request) -> Self {
        RequestEnvelope {
            version: version(),
            session: None,
            context: None,
            request,
        }
    }

    /// The account-linking token: `context.System.user.accessToken`, else
    /// `session.user.accessToken`; `None` when absent or empty.
    pub fn access_token(&self) -> Option<&str> {
        let from_context = self.system().and_then(|s| s.user.as_ref());
        let from_session = self.session.as_ref().and_then(|s| s.user.as_ref());
        from_context
            .and_then(|u| u.access_token.as_deref())
            .or_else(|| from_session.and_then(|u| u.access_token.as_deref()))
            .filter(|t| !t.is_empty())
    }

    /// The skill id: `context.System.application.applicationId`, else
    /// `session.application.applicationId`.
    pub fn application_id(&self) -> Option<&str> {
        fn id(app: Option<&Application>) -> Option<&str> {
            app.and_then(|a| a.application_id.as_deref())
        }
        id(self.system().and_then(|s| s.application.as_ref()))
            .or_else(|| id(self.session.as_ref().and_then(|s| s.application.as_ref())))
    }

    /// `context.System`.
    pub fn system(&self) -> Option<&System> {
        self.context.as_ref().and_then(|c| c.system.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_token_wins_over_the_session_token() {
        let both: RequestEnvelope = serde_json::from_str(
            r#"{"session":{"user":{"accessToken":"s"}},"context":{"System":{"user":{"accessToken":"c"}}},
                "request":{"type":"LaunchRequest","timestamp":"t","unknown":1}}"#,
        )
        .unwrap();
        assert_eq!(both.access_token(), Some("c"));
        let session_only: RequestEnvelope = serde_json::from_str(
            r#"{"session":{"user":{"accessToken":"s"}},"request":{"type":"LaunchRequest","timestamp":"t"}}"#,
        )
        .unwrap();
        assert_eq!(session_only.access_token(), Some("s"));
        let none: RequestEnvelope = serde_json::from_str(
            r#"{"context":{"System":{"user":{"accessToken":""}}},"request":{"type":"LaunchRequest","timestamp":"t"}}"#,
        )
        .unwrap();
        assert_eq!(none.access_token(), None);
        assert!(!format!("{both:?}").contains("\"c\""));
    }

    #[test]
    fn the_context_application_wins_over_the_session_application() {
        let mut envelope = RequestEnvelope::new(Request::Launch(LaunchRequest {
            common: RequestCommon::new("r", "t", "en-US"),
        }));
        assert_eq!(envelope.application_id(), None);
        envelope.session = Some(Session {
            application: Some(Application::new("s")),
            ..Session::default()
        });
        assert_eq!(envelope.application_id(), Some("s"));
        envelope.context = Some(Context {
            system: Some(System {
                application: Some(Application::new("c")),
                api_access_token: Some("secret-api-token".into()),
                ..System::default()
            }),
        });
        assert_eq!(envelope.application_id(), Some("c"));
        assert!(!format!("{envelope:?}").contains("secret-api-token"));
    }

    #[test]
    fn slots_prefer_resolved_values_and_tolerate_missing_parts() {
        let intent: Intent = serde_json::from_str(
            r#"{"name":"GetMeSomePizzaIntent","slots":{
                "Size":{"name":"Size","value":"big","resolutions":{"resolutionsPerAuthority":[
                    {"status":{"code":"ER_SUCCESS_MATCH"},"values":[{"value":{"name":"large","id":"L"}}]}]}},
                "Toppings":{"name":"Toppings","value":"anchovies","resolutions":{"resolutionsPerAuthority":[
                    {"status":{"code":"ER_SUCCESS_NO_MATCH"}}]}},
                "Blank":{"name":"Blank","value":"  "},
                "Empty":{"name":"Empty"}}}"#,
        )
        .unwrap();
        assert_eq!(intent.name, IntentName::GetMeSomePizza);
        assert_eq!(intent.slot("Size"), Some("large"));
        assert_eq!(intent.slot("Toppings"), Some("anchovies"));
        assert_eq!(intent.slot("Blank"), None);
        assert_eq!(intent.slot("Empty"), None);
        assert_eq!(intent.slot("Missing"), None);
    }

    #[test]
    fn built_slots_read_back() {
        let intent = Intent::new(IntentName::GetMeSomePizza)
            .with_slot(
                "Size",
                Slot::heard("big").with_resolution("a", Some(("large".into(), "LARGE".into()))),
            )
            .with_slot(
                "Toppings",
                Slot::heard("anchovies").with_resolution("a", None),
            );
        assert_eq!(intent.slot("Size"), Some("large"));
        assert_eq!(intent.slot("Toppings"), Some("anchovies"));
        assert_eq!(intent.slots["Size"].name.as_deref(), Some("Size"));
    }

    #[test]
    fn unknown_request_types_keep_their_name() {
        let envelope: RequestEnvelope = serde_json::from_str(
            r#"{"request":{"type":"AudioPlayer.PlaybackStarted","requestId":"r","timestamp":"t","token":"x"}}"#,
        )
        .unwrap();
        assert_eq!(envelope.request.type_name(), "AudioPlayer.PlaybackStarted");
        assert!(matches!(envelope.request, Request::Unsupported(_)));
        assert_eq!(envelope.request.request_id(), Some("r"));
        assert_eq!(envelope.version, VERSION);
        let json = serde_json::to_value(&envelope).unwrap();
        assert_eq!(json["request"]["type"], "AudioPlayer.PlaybackStarted");
    }

    #[test]
    fn a_request_needs_a_type_and_a_timestamp() {
        for body in [
            r#"{"request":{"timestamp":"t"}}"#,
            r#"{"request":{"type":"LaunchRequest"}}"#,
            r#"{"request":{"type":3,"timestamp":"t"}}"#,
            r#"{"session":{}}"#,
        ] {
            assert!(
                serde_json::from_str::<RequestEnvelope>(body).is_err(),
                "{body}"
            );
        }
    }
}
