//! The Alexa request and response envelopes, as much of them as pod reads
//! and writes. Unknown fields are ignored; everything optional in Amazon's
//! format is optional here.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// An Alexa request envelope.
#[derive(Debug, Deserialize)]
pub(crate) struct RequestEnvelope {
    #[serde(default)]
    pub(crate) session: Option<Session>,
    #[serde(default)]
    pub(crate) context: Option<Context>,
    pub(crate) request: Request,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Session {
    #[serde(default)]
    pub(crate) user: Option<User>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Context {
    #[serde(rename = "System", default)]
    pub(crate) system: Option<System>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct System {
    #[serde(default)]
    pub(crate) user: Option<User>,
}

#[derive(Deserialize)]
pub(crate) struct User {
    #[serde(rename = "accessToken", default)]
    pub(crate) access_token: Option<String>,
}

impl std::fmt::Debug for User {
    // The access token is a credential: never in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("access_token", &self.access_token.as_ref().map(|_| "***"))
            .finish()
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Request {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(rename = "requestId", default)]
    pub(crate) request_id: Option<String>,
    #[serde(default)]
    pub(crate) intent: Option<Intent>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Intent {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) slots: HashMap<String, Slot>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Slot {
    #[serde(default)]
    pub(crate) value: Option<String>,
    #[serde(default)]
    pub(crate) resolutions: Option<Resolutions>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Resolutions {
    #[serde(rename = "resolutionsPerAuthority", default)]
    pub(crate) per_authority: Vec<Resolution>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Resolution {
    #[serde(default)]
    pub(crate) status: Option<ResolutionStatus>,
    #[serde(default)]
    pub(crate) values: Vec<ResolvedValue>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ResolutionStatus {
    pub(crate) code: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ResolvedValue {
    pub(crate) value: ResolvedName,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ResolvedName {
    pub(crate) name: String,
}

impl RequestEnvelope {
    /// The account-linking token: `context.System.user.accessToken`, else
    /// `session.user.accessToken`.
    pub(crate) fn access_token(&self) -> Option<&str> {
        let from_context = self
            .context
            .as_ref()
            .and_then(|c| c.system.as_ref())
            .and_then(|s| s.user.as_ref());
        let from_session = self.session.as_ref().and_then(|s| s.user.as_ref());
        from_context
            .and_then(|u| u.access_token.as_deref())
            .or_else(|| from_session.and_then(|u| u.access_token.as_deref()))
            .filter(|t| !t.is_empty())
    }
}

impl Intent {
    /// What the person said for a slot: the entity-resolution match when
    /// Alexa found one (the canonical value of a synonym), else the raw value.
    pub(crate) fn slot(&self, name: &str) -> Option<&str> {
        let slot = self.slots.get(name)?;
        let resolved = slot.resolutions.as_ref().and_then(|r| {
            r.per_authority
                .iter()
                .filter(|a| {
                    a.status
                        .as_ref()
                        .is_some_and(|s| s.code == "ER_SUCCESS_MATCH")
                })
                .find_map(|a| a.values.first())
                .map(|v| v.value.name.as_str())
        });
        resolved
            .or(slot.value.as_deref())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }
}

/// An Alexa response envelope.
#[derive(Debug, Serialize)]
pub(crate) struct ResponseEnvelope {
    version: &'static str,
    response: ResponseBody,
}

#[derive(Debug, Serialize, Default)]
struct ResponseBody {
    #[serde(rename = "outputSpeech", skip_serializing_if = "Option::is_none")]
    output_speech: Option<OutputSpeech>,
    #[serde(skip_serializing_if = "Option::is_none")]
    card: Option<Card>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reprompt: Option<Reprompt>,
    #[serde(rename = "shouldEndSession", skip_serializing_if = "Option::is_none")]
    should_end_session: Option<bool>,
}

#[derive(Debug, Serialize)]
struct OutputSpeech {
    #[serde(rename = "type")]
    kind: &'static str,
    text: String,
}

#[derive(Debug, Serialize)]
struct Reprompt {
    #[serde(rename = "outputSpeech")]
    output_speech: OutputSpeech,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type")]
enum Card {
    Simple { title: String, content: String },
    LinkAccount,
}

/// The longest speech pod sends; Alexa's limit is 8,000 characters.
const MAX_SPEECH_CHARS: usize = 6000;

fn plain(text: String) -> OutputSpeech {
    let text = if text.chars().count() > MAX_SPEECH_CHARS {
        text.chars().take(MAX_SPEECH_CHARS).collect()
    } else {
        text
    };
    OutputSpeech {
        kind: "PlainText",
        text,
    }
}

impl ResponseEnvelope {
    /// Speech that ends the session.
    pub(crate) fn tell(text: impl Into<String>) -> Self {
        Self::with(ResponseBody {
            output_speech: Some(plain(text.into())),
            should_end_session: Some(true),
            ..Default::default()
        })
    }

    /// Speech that keeps the session open, with a reprompt.
    pub(crate) fn ask(text: impl Into<String>, reprompt: impl Into<String>) -> Self {
        Self::with(ResponseBody {
            output_speech: Some(plain(text.into())),
            reprompt: Some(Reprompt {
                output_speech: plain(reprompt.into()),
            }),
            should_end_session: Some(false),
            ..Default::default()
        })
    }

    /// The answer to a `SessionEndedRequest`: Alexa accepts no speech there.
    pub(crate) fn empty() -> Self {
        Self::with(ResponseBody::default())
    }

    /// Adds a Simple card for the Alexa app.
    pub(crate) fn with_card(
        mut self,
        title: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        self.response.card = Some(Card::Simple {
            title: title.into(),
            content: content.into(),
        });
        self
    }

    /// Adds the LinkAccount card that starts account linking in the Alexa app.
    pub(crate) fn with_link_account_card(mut self) -> Self {
        self.response.card = Some(Card::LinkAccount);
        self
    }

    fn with(response: ResponseBody) -> Self {
        ResponseEnvelope {
            version: "1.0",
            response,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_token_wins_over_the_session_token() {
        let both: RequestEnvelope = serde_json::from_str(
            r#"{"session":{"user":{"accessToken":"s"}},"context":{"System":{"user":{"accessToken":"c"}}},
                "request":{"type":"LaunchRequest","unknown":1}}"#,
        )
        .unwrap();
        assert_eq!(both.access_token(), Some("c"));
        let session_only: RequestEnvelope = serde_json::from_str(
            r#"{"session":{"user":{"accessToken":"s"}},"request":{"type":"LaunchRequest"}}"#,
        )
        .unwrap();
        assert_eq!(session_only.access_token(), Some("s"));
        let none: RequestEnvelope = serde_json::from_str(
            r#"{"context":{"System":{"user":{}}},"request":{"type":"LaunchRequest"}}"#,
        )
        .unwrap();
        assert_eq!(none.access_token(), None);
        assert!(!format!("{both:?}").contains("\"c\""));
    }

    #[test]
    fn slots_prefer_resolved_values_and_tolerate_missing_parts() {
        let intent: Intent = serde_json::from_str(
            r#"{"name":"GetMeSomePizzaIntent","slots":{
                "Size":{"name":"Size","value":"big","resolutions":{"resolutionsPerAuthority":[
                    {"status":{"code":"ER_SUCCESS_MATCH"},"values":[{"value":{"name":"large","id":"L"}}]}]}},
                "Toppings":{"name":"Toppings","value":"anchovies","resolutions":{"resolutionsPerAuthority":[
                    {"status":{"code":"ER_SUCCESS_NO_MATCH"}}]}},
                "Empty":{"name":"Empty"}}}"#,
        )
        .unwrap();
        assert_eq!(intent.slot("Size"), Some("large"));
        assert_eq!(intent.slot("Toppings"), Some("anchovies"));
        assert_eq!(intent.slot("Empty"), None);
        assert_eq!(intent.slot("Missing"), None);
    }

    #[test]
    fn responses_always_say_whether_the_session_ends() {
        let ask = serde_json::to_value(ResponseEnvelope::ask("a", "b")).unwrap();
        assert_eq!(ask["response"]["shouldEndSession"], false);
        assert_eq!(ask["response"]["reprompt"]["outputSpeech"]["text"], "b");
        let tell =
            serde_json::to_value(ResponseEnvelope::tell("x".repeat(9000)).with_link_account_card())
                .unwrap();
        assert_eq!(tell["response"]["shouldEndSession"], true);
        assert_eq!(tell["response"]["card"]["type"], "LinkAccount");
        assert!(
            tell["response"]["outputSpeech"]["text"]
                .as_str()
                .unwrap()
                .len()
                <= MAX_SPEECH_CHARS
        );
    }
}
