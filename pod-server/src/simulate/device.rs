//! A simulated Alexa device: builds the request envelope Alexa would send
//! for an utterance (pod-alexa's types, a fresh timestamp and request id,
//! the session kept across turns), signs it with the development CA and
//! posts it to the skill.

use std::time::Duration;

use anyhow::anyhow;
use pod_adapters_local::SystemClock;
use pod_alexa::envelope::{
    Application, Context, Device, DialogState, Intent, IntentRequest, LaunchRequest, Request,
    RequestCommon, RequestEnvelope, ResponseEnvelope, Session, SessionEndedReason,
    SessionEndedRequest, Slot, System, User,
};
use pod_alexa::verify::{DevSigningKeys, format_iso8601};
use pod_ports::Clock;
use serde_json::Value;

use super::model::{LanguageModel, Utterance, language_model, language_model_for};

/// The skill id the simulator sends when `POD_SKILL_ID` is not set.
pub const DEV_SKILL_ID: &str = "amzn1.ask.skill.00000000-0000-0000-0000-000000000000";

/// How long the simulator waits for an answer (Alexa waits 8 s).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// What the skill answered to one request.
#[derive(Debug, Clone)]
pub struct SkillAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The whole body as JSON (a response envelope, or an error object), or
    /// as a JSON string when it is not JSON.
    pub body: Value,
    /// The body as a response envelope, when the status is 2xx and the body
    /// is one.
    pub envelope: Option<ResponseEnvelope>,
}

impl SkillAnswer {
    fn new(status: u16, text: String) -> Self {
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let envelope = (200..300)
            .contains(&status)
            .then(|| serde_json::from_value(body.clone()).ok())
            .flatten();
        SkillAnswer {
            status,
            body,
            envelope,
        }
    }

    /// The spoken text.
    pub fn speech(&self) -> Option<&str> {
        self.envelope.as_ref().and_then(ResponseEnvelope::speech)
    }

    /// The reprompt text.
    pub fn reprompt(&self) -> Option<&str> {
        self.envelope.as_ref().and_then(ResponseEnvelope::reprompt)
    }

    /// The card type (`Simple`, `LinkAccount`).
    pub fn card_type(&self) -> Option<&str> {
        self.envelope
            .as_ref()
            .and_then(|e| e.response.card.as_ref())
            .map(|card| card.type_name())
    }

    /// Whether the skill ended the session (also when it gave no envelope).
    pub fn ends_session(&self) -> bool {
        self.envelope
            .as_ref()
            .is_none_or(ResponseEnvelope::ends_session)
    }
}

/// A simulated Alexa device talking to one skill endpoint.
#[allow(missing_debug_implementations)]
pub struct Simulator {
    client: reqwest::Client,
    url: String,
    keys: DevSigningKeys,
    token: Option<String>,
    skill_id: String,
    model: LanguageModel,
    session_id: Option<String>,
    user_id: String,
}

impl Simulator {
    /// A simulator that signs with `keys` and attaches `token`. `skill_id`
    /// may be a comma-separated list (as `POD_SKILL_ID`); the first id is
    /// sent.
    pub fn new(
        url: impl Into<String>,
        keys: DevSigningKeys,
        token: Option<String>,
        skill_id: Option<String>,
    ) -> anyhow::Result<Self> {
        let skill_id = skill_id
            .as_deref()
            .and_then(|ids| ids.split(',').map(str::trim).find(|s| !s.is_empty()))
            .unwrap_or(DEV_SKILL_ID)
            .to_owned();
        Ok(Simulator {
            client: reqwest::Client::builder().timeout(ANSWER_TIMEOUT).build()?,
            url: url.into(),
            keys,
            token,
            skill_id,
            model: language_model()?,
            session_id: None,
            user_id: format!("amzn1.ask.account.pod-simulator-{}", uuid::Uuid::new_v4()),
        })
    }

    /// The skill endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Speaks `locale` (one of [`super::LOCALES`]): matches utterances
    /// against that locale's interaction model and sends it as every
    /// request's `locale`. The default is en-US.
    pub fn with_locale(mut self, locale: &str) -> anyhow::Result<Self> {
        self.model = language_model_for(locale)?;
        Ok(self)
    }

    /// The locale every request carries.
    pub fn locale(&self) -> &str {
        &self.model.locale
    }

    /// The skill's language model, which [`Simulator::say`] matches against.
    pub fn model(&self) -> &LanguageModel {
        &self.model
    }

    /// Whether a session is open (the skill kept it open last turn).
    pub fn in_session(&self) -> bool {
        self.session_id.is_some()
    }

    /// Says something; keeps the session open if the skill does.
    pub async fn say(&mut self, said: &str) -> anyhow::Result<SkillAnswer> {
        let utterance = self.model.understand(said);
        self.send(&utterance).await
    }

    /// Sends an intent with slots, skipping the matching.
    pub async fn intent(
        &mut self,
        name: &str,
        slots: &[(String, String)],
    ) -> anyhow::Result<SkillAnswer> {
        self.send(&Utterance::Intent {
            name: name.into(),
            slots: slots.to_vec(),
        })
        .await
    }

    /// Builds, signs and posts one request.
    pub async fn send(&mut self, utterance: &Utterance) -> anyhow::Result<SkillAnswer> {
        let body = serde_json::to_vec(&self.envelope(utterance))?;
        self.post_signed(&body).await.inspect(|answer| {
            if answer.ends_session() || matches!(utterance, Utterance::SessionEnded) {
                self.session_id = None;
            }
        })
    }

    /// Posts raw bytes with a valid signature (tests use it for odd bodies).
    /// Fails, with a message for people, only when no HTTP answer came; any
    /// status is an answer.
    pub async fn post_signed(&self, body: &[u8]) -> anyhow::Result<SkillAnswer> {
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("SignatureCertChainUrl", self.keys.chain_url())
            .header("Signature-256", self.keys.sign(body))
            .body(body.to_vec())
            .send()
            .await
            .map_err(|error| unreachable_skill(&self.url, &error))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|error| unreachable_skill(&self.url, &error))?;
        Ok(SkillAnswer::new(status, text))
    }

    /// The request envelope Alexa would send for `utterance` now; opens a
    /// session when none is open.
    pub fn envelope(&mut self, utterance: &Utterance) -> RequestEnvelope {
        let new_session = self.session_id.is_none();
        let session_id = self
            .session_id
            .get_or_insert_with(|| format!("amzn1.echo-api.session.{}", uuid::Uuid::new_v4()))
            .clone();
        let common = RequestCommon::new(
            format!("amzn1.echo-api.request.{}", uuid::Uuid::new_v4()),
            format_iso8601(SystemClock.now()),
            self.model.locale.clone(),
        );
        let request = match utterance {
            Utterance::Launch => Request::Launch(LaunchRequest { common }),
            Utterance::SessionEnded => Request::SessionEnded(SessionEndedRequest {
                common,
                reason: Some(SessionEndedReason::UserInitiated),
                error: None,
            }),
            Utterance::Intent { name, slots } => {
                let intent =
                    slots
                        .iter()
                        .fold(Intent::new(name.clone()), |intent, (slot, value)| {
                            let filled = self.slot(name.as_str(), slot, value);
                            intent.with_slot(slot.clone(), filled)
                        });
                Request::Intent(IntentRequest {
                    common,
                    dialog_state: Some(DialogState::Completed),
                    intent: Some(intent),
                })
            }
        };
        let user = User {
            user_id: Some(self.user_id.clone()),
            access_token: self.token.clone(),
        };
        RequestEnvelope {
            session: Some(Session {
                new: new_session,
                session_id: Some(session_id),
                application: Some(Application::new(&self.skill_id)),
                attributes: Some(serde_json::Map::new()),
                user: Some(user.clone()),
            }),
            context: Some(Context {
                system: Some(System {
                    application: Some(Application::new(&self.skill_id)),
                    user: Some(user),
                    device: Some(Device {
                        device_id: Some("amzn1.ask.device.pod-simulator".into()),
                        supported_interfaces: serde_json::Map::new(),
                    }),
                    api_endpoint: Some("https://api.amazonalexa.com".into()),
                    api_access_token: None,
                }),
            }),
            ..RequestEnvelope::new(request)
        }
    }

    /// A filled slot, with entity resolution for the model's custom slot
    /// types (a match gives the canonical value), as Alexa sends it.
    fn slot(&self, intent: &str, slot: &str, value: &str) -> Slot {
        let heard = Slot::heard(value);
        match self
            .model
            .slot_type(intent, slot)
            .filter(|kind| !kind.starts_with("AMAZON."))
        {
            Some(kind) => {
                let authority = format!("amzn1.er-authority.echo-sdk.{}.{kind}", self.skill_id);
                let canonical = self.model.resolve_value(kind, value).map(|v| {
                    let name = v.name.value.clone();
                    let id =
                        v.id.clone()
                            .unwrap_or_else(|| name.to_uppercase().replace(' ', "_"));
                    (name, id)
                });
                heard.with_resolution(authority, canonical)
            }
            None => heard,
        }
    }
}

/// The error for a request that got no HTTP answer, in words for people:
/// nothing listening, a timeout, or the cause without reqwest's chain.
fn unreachable_skill(url: &str, error: &reqwest::Error) -> anyhow::Error {
    if error.is_timeout() {
        return anyhow!("no answer from {url} within {} s", ANSWER_TIMEOUT.as_secs());
    }
    let root = root_cause(error);
    let refused = std::iter::successors(Some(error as &(dyn std::error::Error + 'static)), |e| {
        e.source()
    })
    .filter_map(|e| e.downcast_ref::<std::io::Error>())
    .any(|e| e.kind() == std::io::ErrorKind::ConnectionRefused);
    if refused {
        anyhow!("nothing answers at {url}; start the server with `pod serve`")
    } else if error.is_connect() {
        anyhow!("cannot connect to {url}: {root}")
    } else if error.is_builder() {
        anyhow!("\"{url}\" is not a URL the simulator can post to: {root}")
    } else {
        anyhow!("the request to {url} failed: {root}")
    }
}

/// The innermost cause's message.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simulator() -> (Simulator, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let keys = DevSigningKeys::load_or_create(dir.path()).unwrap();
        let simulator = Simulator::new(
            "http://127.0.0.1:9/alexa",
            keys,
            Some("token".into()),
            Some(" , amzn1.ask.skill.first, amzn1.ask.skill.second".into()),
        )
        .unwrap();
        (simulator, dir)
    }

    #[test]
    fn envelopes_carry_the_session_token_and_resolved_slots() {
        let (mut simulator, _dir) = simulator();
        let order = simulator
            .model()
            .understand("get me a big pizza with cheese and anchovies");
        let first = simulator.envelope(&order);
        let session = first.session.as_ref().unwrap();
        assert!(session.new);
        assert_eq!(first.access_token(), Some("token"));
        assert_eq!(first.application_id(), Some("amzn1.ask.skill.first"));
        let intent = first.request.intent().unwrap();
        assert_eq!(intent.name.as_str(), "GetMeSomePizzaIntent");
        assert_eq!(intent.slot("Size"), Some("large"), "big resolves to large");
        assert_eq!(
            intent.slots["Toppings"].value.as_deref(),
            Some("cheese and anchovies")
        );
        assert_eq!(intent.slots["Toppings"].resolved(), None);

        // The next turn stays in the session; the request id is fresh.
        let second = simulator.envelope(&Utterance::Launch);
        assert!(!second.session.as_ref().unwrap().new);
        assert_eq!(
            second.session.as_ref().unwrap().session_id,
            first.session.as_ref().unwrap().session_id
        );
        assert_ne!(second.request.request_id(), first.request.request_id());

        // What goes on the wire parses back as the same envelope.
        let bytes = serde_json::to_vec(&first).unwrap();
        let parsed: RequestEnvelope = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(parsed, first);
    }

    #[test]
    fn a_german_simulator_sends_de_de_and_resolves_german_words_to_their_ids() {
        let (simulator, _dir) = simulator();
        assert_eq!(simulator.locale(), "en-US", "the default");
        let mut simulator = simulator.with_locale("de-DE").unwrap();
        assert_eq!(simulator.locale(), "de-DE");
        let order = simulator
            .model()
            .understand("bestelle eine große Pizza mit Champignons");
        let envelope = simulator.envelope(&order);
        assert_eq!(envelope.request.common().locale.as_deref(), Some("de-DE"));
        let intent = envelope.request.intent().unwrap();
        assert_eq!(intent.slot("Size"), Some("groß"));
        assert_eq!(intent.slot("Toppings"), Some("Pilze"));
        let resolution = &intent.slots["Size"]
            .resolutions
            .as_ref()
            .unwrap()
            .per_authority[0];
        assert_eq!(resolution.values[0].value.id.as_deref(), Some("LARGE"));
        let pizza =
            pod_domain::Pizza::from_spoken(intent.slot("Size"), intent.slot("Toppings")).unwrap();
        assert_eq!(pizza.to_string(), "a large pizza with mushrooms");
    }

    #[test]
    fn answers_read_their_envelope_only_when_successful() {
        let ok = SkillAnswer::new(
            200,
            r#"{"version":"1.0","response":{"outputSpeech":{"type":"PlainText","text":"Hi"},"card":{"type":"LinkAccount"},"shouldEndSession":false}}"#.into(),
        );
        assert_eq!(ok.speech(), Some("Hi"));
        assert_eq!(ok.card_type(), Some("LinkAccount"));
        assert!(!ok.ends_session());
        let refused = SkillAnswer::new(400, r#"{"error":"cert_url","message":"m"}"#.into());
        assert!(refused.envelope.is_none());
        assert!(refused.ends_session());
        let text = SkillAnswer::new(502, "Bad Gateway".into());
        assert_eq!(text.body, Value::String("Bad Gateway".into()));
    }
}
