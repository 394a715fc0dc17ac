//! The response envelope: what the skill answers.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::can_fulfill::CanFulfillIntent;

/// The longest speech the builders send; longer text is cut. Alexa's limit
/// is 8,000 characters.
pub const MAX_SPEECH_CHARS: usize = 6000;

/// An Alexa response envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseEnvelope {
    /// `version` (`1.0`).
    pub version: String,
    /// `sessionAttributes`: handed back in the next request's
    /// `session.attributes`.
    #[serde(
        rename = "sessionAttributes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub session_attributes: Option<Map<String, Value>>,
    /// `response`.
    pub response: Response,
}

/// `response`: everything optional; an empty object is the answer to a
/// `SessionEndedRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Response {
    /// `outputSpeech`.
    #[serde(
        rename = "outputSpeech",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub output_speech: Option<OutputSpeech>,
    /// `card`, shown in the Alexa app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<Card>,
    /// `reprompt`: said when the person does not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reprompt: Option<Reprompt>,
    /// `shouldEndSession`.
    #[serde(
        rename = "shouldEndSession",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub should_end_session: Option<bool>,
    /// `canFulfillIntent`: the answer to a `CanFulfillIntentRequest`.
    #[serde(
        rename = "canFulfillIntent",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub can_fulfill_intent: Option<CanFulfillIntent>,
}

/// `outputSpeech`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum OutputSpeech {
    /// `PlainText`.
    PlainText {
        /// `text`.
        text: String,
    },
    /// `SSML`.
    #[serde(rename = "SSML")]
    Ssml {
        /// `ssml`: `<speak>…</speak>`.
        ssml: String,
    },
}

/// `reprompt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reprompt {
    /// `outputSpeech`.
    #[serde(rename = "outputSpeech")]
    pub output_speech: OutputSpeech,
}

/// `card`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Card {
    /// `Simple`: a title and text.
    Simple {
        /// `title`.
        title: String,
        /// `content`.
        content: String,
    },
    /// `LinkAccount`: starts account linking in the Alexa app.
    LinkAccount,
}

impl OutputSpeech {
    /// Plain text, cut to [`MAX_SPEECH_CHARS`] characters.
    pub fn plain(text: impl Into<String>) -> Self {
        let text = text.into();
        let text = if text.chars().count() > MAX_SPEECH_CHARS {
            text.chars().take(MAX_SPEECH_CHARS).collect()
        } else {
            text
        };
        OutputSpeech::PlainText { text }
    }

    /// SSML, as given (`<speak>…</speak>`).
    pub fn ssml(ssml: impl Into<String>) -> Self {
        OutputSpeech::Ssml { ssml: ssml.into() }
    }

    /// The text of plain speech, or the markup of SSML.
    pub fn text(&self) -> &str {
        match self {
            OutputSpeech::PlainText { text } => text,
            OutputSpeech::Ssml { ssml } => ssml,
        }
    }
}

impl Card {
    /// The card's `type`: `Simple` or `LinkAccount`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Card::Simple { .. } => "Simple",
            Card::LinkAccount => "LinkAccount",
        }
    }
}

impl ResponseEnvelope {
    /// Speech that ends the session.
    pub fn tell(text: impl Into<String>) -> Self {
        Self::with(Response {
            output_speech: Some(OutputSpeech::plain(text)),
            should_end_session: Some(true),
            ..Response::default()
        })
    }

    /// Speech that keeps the session open, with a reprompt.
    pub fn ask(text: impl Into<String>, reprompt: impl Into<String>) -> Self {
        Self::with(Response {
            output_speech: Some(OutputSpeech::plain(text)),
            reprompt: Some(Reprompt {
                output_speech: OutputSpeech::plain(reprompt),
            }),
            should_end_session: Some(false),
            ..Response::default()
        })
    }

    /// Nothing to say: the answer to a `SessionEndedRequest` or
    /// `System.ExceptionEncountered`, where Alexa accepts no speech.
    pub fn empty() -> Self {
        Self::with(Response::default())
    }

    /// The answer to a `CanFulfillIntentRequest`: `canFulfillIntent` alone,
    /// no speech and no session.
    pub fn can_fulfill(answer: CanFulfillIntent) -> Self {
        Self::with(Response {
            can_fulfill_intent: Some(answer),
            ..Response::default()
        })
    }

    /// Adds a Simple card for the Alexa app.
    pub fn with_simple_card(
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
    pub fn with_link_account_card(mut self) -> Self {
        self.response.card = Some(Card::LinkAccount);
        self
    }

    /// Sets one session attribute, handed back with the next request.
    pub fn with_session_attribute(mut self, key: impl Into<String>, value: Value) -> Self {
        self.session_attributes
            .get_or_insert_with(Map::new)
            .insert(key.into(), value);
        self
    }

    /// The spoken text (or SSML markup), if any.
    pub fn speech(&self) -> Option<&str> {
        self.response.output_speech.as_ref().map(OutputSpeech::text)
    }

    /// The reprompt's text (or SSML markup), if any.
    pub fn reprompt(&self) -> Option<&str> {
        self.response
            .reprompt
            .as_ref()
            .map(|r| r.output_speech.text())
    }

    /// Whether the session ends with this answer. Alexa ends it when
    /// `shouldEndSession` is absent, except for some device types; pod
    /// always says.
    pub fn ends_session(&self) -> bool {
        self.response.should_end_session.unwrap_or(true)
    }

    fn with(response: Response) -> Self {
        ResponseEnvelope {
            version: super::version(),
            session_attributes: None,
            response,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_always_say_whether_the_session_ends() {
        let ask = serde_json::to_value(ResponseEnvelope::ask("a", "b")).unwrap();
        assert_eq!(ask["response"]["shouldEndSession"], false);
        assert_eq!(ask["response"]["reprompt"]["outputSpeech"]["text"], "b");
        assert_eq!(ask["response"]["outputSpeech"]["type"], "PlainText");
        let tell =
            serde_json::to_value(ResponseEnvelope::tell("x".repeat(9000)).with_link_account_card())
                .unwrap();
        assert_eq!(tell["response"]["shouldEndSession"], true);
        assert_eq!(
            tell["response"]["card"],
            serde_json::json!({"type": "LinkAccount"})
        );
        assert!(
            tell["response"]["outputSpeech"]["text"]
                .as_str()
                .unwrap()
                .len()
                <= MAX_SPEECH_CHARS
        );
        assert_eq!(
            serde_json::to_value(ResponseEnvelope::empty()).unwrap(),
            serde_json::json!({"version": "1.0", "response": {}})
        );
    }

    #[test]
    fn ssml_cards_and_attributes_serialize_as_alexa_spells_them() {
        let mut answer = ResponseEnvelope::tell("x")
            .with_simple_card("T", "C")
            .with_session_attribute("step", Value::from(2));
        answer.response.output_speech = Some(OutputSpeech::ssml("<speak>hi</speak>"));
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "version": "1.0",
                "sessionAttributes": {"step": 2},
                "response": {
                    "outputSpeech": {"type": "SSML", "ssml": "<speak>hi</speak>"},
                    "card": {"type": "Simple", "title": "T", "content": "C"},
                    "shouldEndSession": true
                }
            })
        );
        let back: ResponseEnvelope = serde_json::from_value(json).unwrap();
        assert_eq!(back, answer);
        assert_eq!(back.speech(), Some("<speak>hi</speak>"));
        assert!(back.ends_session());
    }
}
