//! A conversation simulator: turns an utterance into the request Alexa would
//! send (matched against the skill's interaction model, with a fresh
//! timestamp and request id), signs it with the development CA and posts it.

use std::io::{BufRead, Write};
use std::time::Duration;

use anyhow::{Context, bail};
use pod_adapters_http::verify::{DevSigningKeys, format_iso8601};
use pod_adapters_local::SystemClock;
use pod_ports::Clock;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::dev_signing_keys;
use crate::settings::DataArgs;

/// The skill's interaction model, the same file the Alexa console imports.
pub const INTERACTION_MODEL: &str =
    include_str!("../../skill-package/interactionModels/custom/en-US.json");

/// The skill id the simulator sends when `POD_SKILL_ID` is not set.
pub const DEV_SKILL_ID: &str = "amzn1.ask.skill.00000000-0000-0000-0000-000000000000";

/// Flags of `pod simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The local user to speak as (their access token is attached).
    #[arg(long)]
    pub user: Option<String>,
    /// The skill endpoint.
    #[arg(
        long,
        env = "POD_SIMULATE_URL",
        default_value = "http://127.0.0.1:7100/alexa"
    )]
    pub url: String,
    /// The intent to send, skipping the utterance matching.
    #[arg(long)]
    pub intent: Option<String>,
    /// A slot value for --intent, as Key=Value (repeatable).
    #[arg(long = "slot", value_parser = parse_slot)]
    pub slots: Vec<(String, String)>,
    /// The skill id to send (default: the first of POD_SKILL_ID, or a development id).
    #[arg(long, env = "POD_SKILL_ID")]
    pub skill_id: Option<String>,
    /// Print the whole response envelope as JSON.
    #[arg(long)]
    pub json: bool,
    /// What the person says, e.g. "get me a large pizza with pepperoni".
    pub utterance: Option<String>,
}

/// Flags of `pod dialog`.
#[derive(Debug, Clone, clap::Args)]
pub struct DialogArgs {
    /// The local user to speak as.
    #[arg(long)]
    pub user: Option<String>,
    /// The skill endpoint.
    #[arg(
        long,
        env = "POD_SIMULATE_URL",
        default_value = "http://127.0.0.1:7100/alexa"
    )]
    pub url: String,
    /// The skill id to send.
    #[arg(long, env = "POD_SKILL_ID")]
    pub skill_id: Option<String>,
}

fn parse_slot(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{raw:?} is not Key=Value"))
}

/// What the simulator sends: a request type, and for intents a name and slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Utterance {
    /// "open pizza on demand".
    Launch,
    /// An intent with raw slot values.
    Intent {
        /// Intent name.
        name: String,
        /// Slot name → what was heard.
        slots: Vec<(String, String)>,
    },
    /// The person ended the session.
    SessionEnded,
}

#[derive(Deserialize)]
struct ModelFile {
    #[serde(rename = "interactionModel")]
    interaction_model: InteractionModel,
}

#[derive(Deserialize)]
struct InteractionModel {
    #[serde(rename = "languageModel")]
    language_model: LanguageModel,
}

/// The part of the interaction model the simulator reads.
#[derive(Debug, Deserialize)]
pub struct LanguageModel {
    /// "pizza on demand".
    #[serde(rename = "invocationName")]
    pub invocation_name: String,
    /// The intents with their samples.
    pub intents: Vec<ModelIntent>,
    /// The custom slot types.
    #[serde(default)]
    pub types: Vec<SlotType>,
}

/// An intent of the model.
#[derive(Debug, Deserialize)]
pub struct ModelIntent {
    /// Its name.
    pub name: String,
    /// Its slots.
    #[serde(default)]
    pub slots: Vec<ModelSlot>,
    /// Sample utterances with `{Slot}` placeholders.
    #[serde(default)]
    pub samples: Vec<String>,
}

/// A slot of an intent.
#[derive(Debug, Deserialize)]
pub struct ModelSlot {
    /// Its name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A custom slot type.
#[derive(Debug, Deserialize)]
pub struct SlotType {
    /// Its name.
    pub name: String,
    /// Its values.
    pub values: Vec<SlotTypeValue>,
}

/// One value of a custom slot type.
#[derive(Debug, Deserialize)]
pub struct SlotTypeValue {
    /// The canonical name and synonyms.
    pub name: SlotValueName,
}

/// A canonical value and its synonyms.
#[derive(Debug, Deserialize)]
pub struct SlotValueName {
    /// Canonical value.
    pub value: String,
    /// Synonyms.
    #[serde(default)]
    pub synonyms: Vec<String>,
}

/// The skill's language model, parsed from [`INTERACTION_MODEL`].
pub fn language_model() -> anyhow::Result<LanguageModel> {
    let file: ModelFile = serde_json::from_str(INTERACTION_MODEL)
        .context("the interaction model is not valid JSON")?;
    Ok(file.interaction_model.language_model)
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The words of a sample utterance; `{Slot}` placeholders keep their case.
fn sample_words(sample: &str) -> Vec<String> {
    sample
        .split_whitespace()
        .flat_map(|token| {
            if token.starts_with('{') && token.ends_with('}') {
                vec![token.to_owned()]
            } else {
                words(token)
            }
        })
        .collect()
}

const NUMBER_WORDS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// "one two three four" → "1234", as Alexa fills `AMAZON.FOUR_DIGIT_NUMBER`.
fn spoken_digits(text: &str) -> String {
    words(text)
        .iter()
        .map(|w| match NUMBER_WORDS.iter().position(|n| n == w) {
            Some(d) => d.to_string(),
            None if w == "oh" => "0".to_owned(),
            None => w.clone(),
        })
        .collect::<Vec<_>>()
        .join("")
}

impl LanguageModel {
    /// Matches what a person says against the samples, as Alexa would (a
    /// simple version: every word of a sample in order, a slot taking one
    /// or more words). Built-ins and "open ..." are recognised by their
    /// usual phrases; anything else is `AMAZON.FallbackIntent`.
    pub fn understand(&self, said: &str) -> Utterance {
        let mut heard = words(said);
        if heard.first().is_some_and(|w| w == "alexa") {
            heard.remove(0);
        }
        let invocation = words(&self.invocation_name);
        for lead in [&["ask"][..], &["tell"], &["open"], &["launch"], &["start"]] {
            if heard.starts_with(&lead.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                && heard[lead.len()..].starts_with(&invocation)
            {
                let rest: Vec<String> = heard[lead.len() + invocation.len()..].to_vec();
                let rest: Vec<String> = match rest.first().map(String::as_str) {
                    Some("to" | "for" | "and") => rest[1..].to_vec(),
                    _ => rest,
                };
                if rest.is_empty() {
                    return Utterance::Launch;
                }
                heard = rest;
                break;
            }
        }
        let phrase = heard.join(" ");
        let builtin = match phrase.as_str() {
            "help" | "help me" | "what can i say" => Some("AMAZON.HelpIntent"),
            "stop" | "stop it" | "shut up" | "off" => Some("AMAZON.StopIntent"),
            "cancel" | "never mind" | "nevermind" | "forget it" => Some("AMAZON.CancelIntent"),
            "go home" | "home" => Some("AMAZON.NavigateHomeIntent"),
            "exit" | "quit" | "goodbye" => return Utterance::SessionEnded,
            _ => None,
        };
        if let Some(name) = builtin {
            return Utterance::Intent {
                name: name.to_owned(),
                slots: vec![],
            };
        }
        for intent in &self.intents {
            for sample in &intent.samples {
                if let Some(slots) = match_sample(&sample_words(sample), &heard) {
                    let slots = slots
                        .into_iter()
                        .map(|(name, value)| {
                            let is_number = intent
                                .slots
                                .iter()
                                .any(|s| s.name == name && s.kind == "AMAZON.FOUR_DIGIT_NUMBER");
                            let value = if is_number {
                                spoken_digits(&value)
                            } else {
                                value
                            };
                            (name, value)
                        })
                        .collect();
                    return Utterance::Intent {
                        name: intent.name.clone(),
                        slots,
                    };
                }
            }
        }
        Utterance::Intent {
            name: "AMAZON.FallbackIntent".to_owned(),
            slots: vec![],
        }
    }

    /// The canonical value for a heard slot value of a custom type, if it
    /// is a value or synonym of that type (entity resolution).
    pub fn resolve(&self, slot_type: &str, heard: &str) -> Option<&str> {
        let heard = heard.trim().to_lowercase();
        let kind = self.types.iter().find(|t| t.name == slot_type)?;
        kind.values
            .iter()
            .find(|v| {
                v.name.value.to_lowercase() == heard
                    || v.name.synonyms.iter().any(|s| s.to_lowercase() == heard)
            })
            .map(|v| v.name.value.as_str())
    }

    fn slot_type(&self, intent: &str, slot: &str) -> Option<&str> {
        let intent = self.intents.iter().find(|i| i.name == intent)?;
        intent
            .slots
            .iter()
            .find(|s| s.name == slot)
            .map(|s| s.kind.as_str())
    }
}

/// Matches sample words (with `{slot}` placeholders) against heard words.
fn match_sample(sample: &[String], heard: &[String]) -> Option<Vec<(String, String)>> {
    match sample.split_first() {
        None => heard.is_empty().then(Vec::new),
        Some((first, rest)) => {
            if let Some(slot) = first.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                // A slot takes one or more words; try the shortest first so the
                // literal words after it still match.
                for take in 1..=heard.len() {
                    if let Some(mut found) = match_sample(rest, &heard[take..]) {
                        found.insert(0, (slot.to_owned(), heard[..take].join(" ")));
                        return Some(found);
                    }
                }
                None
            } else if heard.first() == Some(first) {
                match_sample(rest, &heard[1..])
            } else {
                None
            }
        }
    }
}

/// The Alexa answer, as the simulator prints it.
#[derive(Debug, Clone)]
pub struct SkillAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The whole body (a response envelope, or an error object).
    pub body: Value,
}

impl SkillAnswer {
    /// The spoken text.
    pub fn speech(&self) -> Option<&str> {
        self.body["response"]["outputSpeech"]["text"].as_str()
    }

    /// The reprompt text.
    pub fn reprompt(&self) -> Option<&str> {
        self.body["response"]["reprompt"]["outputSpeech"]["text"].as_str()
    }

    /// The card type (Simple, LinkAccount).
    pub fn card_type(&self) -> Option<&str> {
        self.body["response"]["card"]["type"].as_str()
    }

    /// Whether the skill ended the session.
    pub fn ends_session(&self) -> bool {
        self.body["response"]["shouldEndSession"]
            .as_bool()
            .unwrap_or(true)
    }

    fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        if self.status != 200 {
            writeln!(out, "HTTP {}: {}", self.status, self.body)?;
            return Ok(());
        }
        writeln!(out, "Alexa: {}", self.speech().unwrap_or("(silence)"))?;
        if let Some(reprompt) = self.reprompt() {
            writeln!(out, "  reprompt: {reprompt}")?;
        }
        match self.card_type() {
            Some("LinkAccount") => writeln!(
                out,
                "  card: LinkAccount (link your account in the Alexa app)"
            )?,
            Some(_) => writeln!(
                out,
                "  card: {}: {}",
                self.body["response"]["card"]["title"]
                    .as_str()
                    .unwrap_or(""),
                self.body["response"]["card"]["content"]
                    .as_str()
                    .unwrap_or("")
            )?,
            None => {}
        }
        writeln!(
            out,
            "  session {}",
            if self.ends_session() { "ended" } else { "open" }
        )
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
    /// A simulator that signs with `keys` and attaches `token`.
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
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            url: url.into(),
            keys,
            token,
            skill_id,
            model: language_model()?,
            session_id: None,
            user_id: format!("amzn1.ask.account.pod-simulator-{}", uuid::Uuid::new_v4()),
        })
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
            name: name.to_owned(),
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
            .with_context(|| format!("cannot reach the skill at {}", self.url))?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(SkillAnswer { status, body })
    }

    /// The request envelope Alexa would send for `utterance` now.
    pub fn envelope(&mut self, utterance: &Utterance) -> Value {
        let new_session = self.session_id.is_none();
        let session_id = self
            .session_id
            .get_or_insert_with(|| format!("amzn1.echo-api.session.{}", uuid::Uuid::new_v4()))
            .clone();
        let request_id = format!("amzn1.echo-api.request.{}", uuid::Uuid::new_v4());
        let timestamp = format_iso8601(SystemClock.now());
        let request = match utterance {
            Utterance::Launch => {
                json!({"type": "LaunchRequest", "requestId": request_id, "timestamp": timestamp, "locale": "en-US"})
            }
            Utterance::SessionEnded => json!({
                "type": "SessionEndedRequest", "requestId": request_id, "timestamp": timestamp, "locale": "en-US", "reason": "USER_INITIATED"
            }),
            Utterance::Intent { name, slots } => {
                let slots: serde_json::Map<String, Value> = slots
                    .iter()
                    .map(|(slot, value)| (slot.clone(), self.slot_json(name, slot, value)))
                    .collect();
                json!({
                    "type": "IntentRequest", "requestId": request_id, "timestamp": timestamp, "locale": "en-US",
                    "dialogState": "COMPLETED",
                    "intent": {"name": name, "confirmationStatus": "NONE", "slots": slots}
                })
            }
        };
        let mut user = json!({"userId": self.user_id});
        if let Some(token) = &self.token {
            user["accessToken"] = json!(token);
        }
        json!({
            "version": "1.0",
            "session": {
                "new": new_session, "sessionId": session_id,
                "application": {"applicationId": self.skill_id}, "attributes": {}, "user": user
            },
            "context": {
                "System": {
                    "application": {"applicationId": self.skill_id},
                    "user": user,
                    "device": {"deviceId": "amzn1.ask.device.pod-simulator", "supportedInterfaces": {}},
                    "apiEndpoint": "https://api.amazonalexa.com"
                }
            },
            "request": request
        })
    }

    fn slot_json(&self, intent: &str, slot: &str, value: &str) -> Value {
        let mut json = json!({"name": slot, "value": value, "confirmationStatus": "NONE"});
        if let Some(kind) = self
            .model
            .slot_type(intent, slot)
            .filter(|k| !k.starts_with("AMAZON."))
        {
            let authority = format!("amzn1.er-authority.echo-sdk.{}.{kind}", self.skill_id);
            json["resolutions"] = match self.model.resolve(kind, value) {
                Some(canonical) => json!({"resolutionsPerAuthority": [{
                    "authority": authority, "status": {"code": "ER_SUCCESS_MATCH"},
                    "values": [{"value": {"name": canonical, "id": canonical.to_uppercase().replace(' ', "_")}}]
                }]}),
                None => {
                    json!({"resolutionsPerAuthority": [{"authority": authority, "status": {"code": "ER_SUCCESS_NO_MATCH"}}]})
                }
            };
        }
        json
    }
}

async fn simulator_for(
    data: &DataArgs,
    url: &str,
    user: Option<&str>,
    skill_id: Option<String>,
) -> anyhow::Result<Simulator> {
    let token = match user {
        Some(name) => Some(crate::cli::issue_token(data, name, Duration::from_secs(3600)).await?),
        None => None,
    };
    let keys = dev_signing_keys(&data.data_dir)?;
    Simulator::new(url, keys, token, skill_id)
}

/// `pod simulate`.
pub async fn simulate_command(args: SimulateArgs, data: &DataArgs) -> anyhow::Result<()> {
    let mut simulator =
        simulator_for(data, &args.url, args.user.as_deref(), args.skill_id.clone()).await?;
    let answer = match (&args.intent, &args.utterance) {
        (Some(intent), _) => simulator.intent(intent, &args.slots).await?,
        (None, Some(utterance)) => {
            let understood = simulator.model.understand(utterance);
            eprintln!("You: {utterance}\n  heard as {understood:?}");
            simulator.send(&understood).await?
        }
        (None, None) => {
            bail!("say something: pod simulate --user demo \"get me a large pizza with pepperoni\"")
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&answer.body)?)?;
    } else {
        answer.print(&mut out)?;
    }
    Ok(())
}

/// `pod dialog`: one utterance per line until the session ends or input does.
pub async fn dialog_command(args: DialogArgs, data: &DataArgs) -> anyhow::Result<()> {
    let mut simulator =
        simulator_for(data, &args.url, args.user.as_deref(), args.skill_id.clone()).await?;
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    writeln!(
        out,
        "Talk to Pizza on Demand (an empty line or Ctrl-D ends). Try: open pizza on demand"
    )?;
    loop {
        write!(out, "You: ")?;
        out.flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 || line.trim().is_empty() {
            if simulator.session_id.is_some() {
                simulator.send(&Utterance::SessionEnded).await?;
            }
            return Ok(());
        }
        let answer = simulator.say(line.trim()).await?;
        answer.print(&mut out.lock())?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pod_domain::{PizzaSize, Topping};

    fn intent(name: &str, slots: &[(&str, &str)]) -> Utterance {
        Utterance::Intent {
            name: name.to_owned(),
            slots: slots
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn utterances_match_the_interaction_model() {
        let model = language_model().unwrap();
        let cases = [
            (
                "get me a large pizza with pepperoni",
                intent(
                    "GetMeSomePizzaIntent",
                    &[("Size", "large"), ("Toppings", "pepperoni")],
                ),
            ),
            (
                "Alexa, ask pizza on demand to get me a big pizza with ham, bacon and pineapple",
                intent(
                    "GetMeSomePizzaIntent",
                    &[("Size", "big"), ("Toppings", "ham bacon and pineapple")],
                ),
            ),
            ("get me some pizza", intent("GetMeSomePizzaIntent", &[])),
            (
                "authorize one two three four",
                intent("AuthorizePizzaOrderIntent", &[("Code", "1234")]),
            ),
            (
                "Operation pizza is a go 9876",
                intent("AuthorizePizzaOrderIntent", &[("Code", "9876")]),
            ),
            ("open pizza on demand", Utterance::Launch),
            ("help", intent("AMAZON.HelpIntent", &[])),
            ("stop", intent("AMAZON.StopIntent", &[])),
            ("sing me a song", intent("AMAZON.FallbackIntent", &[])),
            ("exit", Utterance::SessionEnded),
        ];
        for (said, expected) in cases {
            assert_eq!(model.understand(said), expected, "{said}");
        }
    }

    #[test]
    fn the_model_and_the_domain_share_one_vocabulary() {
        let model = language_model().unwrap();
        let vocabulary = |type_name: &str| -> Vec<(String, Vec<String>)> {
            let kind = model.types.iter().find(|t| t.name == type_name).unwrap();
            kind.values
                .iter()
                .map(|v| (v.name.value.clone(), v.name.synonyms.clone()))
                .collect()
        };
        let domain_sizes: Vec<(String, Vec<String>)> = PizzaSize::ALL
            .iter()
            .map(|s| {
                (
                    s.name().to_owned(),
                    s.synonyms().iter().map(|x| (*x).to_owned()).collect(),
                )
            })
            .collect();
        let domain_toppings: Vec<(String, Vec<String>)> = Topping::ALL
            .iter()
            .map(|t| {
                (
                    t.name().to_owned(),
                    t.synonyms().iter().map(|x| (*x).to_owned()).collect(),
                )
            })
            .collect();
        assert_eq!(vocabulary("PIZZA_SIZE"), domain_sizes);
        assert_eq!(vocabulary("PIZZA_TOPPINGS"), domain_toppings);
        assert_eq!(model.invocation_name, "pizza on demand");
        for required in [
            "AMAZON.HelpIntent",
            "AMAZON.StopIntent",
            "AMAZON.CancelIntent",
            "AMAZON.FallbackIntent",
            "AMAZON.NavigateHomeIntent",
        ] {
            assert!(
                model.intents.iter().any(|i| i.name == required),
                "{required}"
            );
        }
    }

    #[test]
    fn entity_resolution_maps_synonyms_to_values() {
        let model = language_model().unwrap();
        assert_eq!(model.resolve("PIZZA_SIZE", "Big"), Some("large"));
        assert_eq!(
            model.resolve("PIZZA_TOPPINGS", "cheese"),
            Some("extra cheese")
        );
        assert_eq!(model.resolve("PIZZA_TOPPINGS", "anchovies"), None);
    }
}
