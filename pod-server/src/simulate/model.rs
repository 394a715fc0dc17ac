//! The skill's interaction model and the matching of what a person says
//! against it, as Alexa's language understanding would do (a simple
//! version): an utterance becomes a request type, or an intent with slots.

use anyhow::Context;
use pod_alexa::envelope::IntentName;
use serde::Deserialize;

/// The skill's interaction model, the same file the Alexa console imports.
pub const INTERACTION_MODEL: &str =
    include_str!("../../../skill-package/interactionModels/custom/en-US.json");

/// What the simulator sends: a request type, and for intents a name and slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Utterance {
    /// "open pizza on demand".
    Launch,
    /// An intent with raw slot values.
    Intent {
        /// Intent name.
        name: IntentName,
        /// Slot name → what was heard.
        slots: Vec<(String, String)>,
    },
    /// The person ended the session.
    SessionEnded,
}

impl Utterance {
    /// An intent with these slot values.
    pub fn intent(name: impl Into<IntentName>, slots: &[(&str, &str)]) -> Utterance {
        Utterance::Intent {
            name: name.into(),
            slots: slots
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }
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
            "help" | "help me" | "what can i say" => Some(IntentName::Help),
            "stop" | "stop it" | "shut up" | "off" => Some(IntentName::Stop),
            "cancel" | "never mind" | "nevermind" | "forget it" => Some(IntentName::Cancel),
            "go home" | "home" => Some(IntentName::NavigateHome),
            "exit" | "quit" | "goodbye" => return Utterance::SessionEnded,
            _ => None,
        };
        if let Some(name) = builtin {
            return Utterance::Intent {
                name,
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
                        name: intent.name.as_str().into(),
                        slots,
                    };
                }
            }
        }
        Utterance::Intent {
            name: IntentName::Fallback,
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

    /// The type of `slot` of `intent`, e.g. `PIZZA_SIZE`.
    pub fn slot_type(&self, intent: &str, slot: &str) -> Option<&str> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use pod_domain::{PizzaSize, Topping};

    fn intent(name: &str, slots: &[(&str, &str)]) -> Utterance {
        Utterance::intent(name, slots)
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
