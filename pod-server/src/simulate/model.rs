//! The skill's interaction models and the matching of what a person says
//! against one, as Alexa's language understanding would do (a simple
//! version): an utterance becomes a request type, or an intent with slots.
//! One model per locale ([`LOCALES`]), each with the phrases Alexa itself
//! understands in its language (built-in intents, "open …", spoken digits).

use anyhow::{Context, anyhow};
use pod_alexa::envelope::IntentName;
use pod_domain::Language;
use serde::Deserialize;

/// The en-US interaction model, the same file the Alexa console imports.
pub const INTERACTION_MODEL: &str =
    include_str!("../../../skill-package/interactionModels/custom/en-US.json");

/// The locales the skill has an interaction model for, the default first.
pub const LOCALES: [&str; 6] = ["en-US", "en-GB", "en-CA", "en-AU", "en-IN", "de-DE"];

/// The interaction model of each of [`LOCALES`], as imported into the Alexa
/// console (`skill-package/interactionModels/custom/<locale>.json`).
pub const INTERACTION_MODELS: [(&str, &str); 6] = [
    ("en-US", INTERACTION_MODEL),
    (
        "en-GB",
        include_str!("../../../skill-package/interactionModels/custom/en-GB.json"),
    ),
    (
        "en-CA",
        include_str!("../../../skill-package/interactionModels/custom/en-CA.json"),
    ),
    (
        "en-AU",
        include_str!("../../../skill-package/interactionModels/custom/en-AU.json"),
    ),
    (
        "en-IN",
        include_str!("../../../skill-package/interactionModels/custom/en-IN.json"),
    ),
    (
        "de-DE",
        include_str!("../../../skill-package/interactionModels/custom/de-DE.json"),
    ),
];

/// What Alexa understands in a language without the skill's samples: the
/// words that open a skill, the built-in intents, spoken digits.
#[derive(Debug)]
struct Phrasebook {
    /// "ask", "open": what comes before the invocation name.
    leads: &'static [&'static str],
    /// "to", "and": what may join the invocation name and the request.
    joiners: &'static [&'static str],
    /// How to open the skill, for a hint ("open").
    open: &'static str,
    help: &'static [&'static str],
    stop: &'static [&'static str],
    cancel: &'static [&'static str],
    home: &'static [&'static str],
    /// What ends the session.
    end: &'static [&'static str],
    /// The words for 0 to 9, then other words for digits.
    digits: [&'static str; 10],
    other_digits: &'static [(&'static str, char)],
}

const ENGLISH: Phrasebook = Phrasebook {
    leads: &["ask", "tell", "open", "launch", "start"],
    joiners: &["to", "for", "and"],
    open: "open",
    help: &["help", "help me", "what can i say"],
    stop: &["stop", "stop it", "shut up", "off"],
    cancel: &["cancel", "never mind", "nevermind", "forget it"],
    home: &["go home", "home"],
    end: &["exit", "quit", "goodbye"],
    digits: [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ],
    other_digits: &[("oh", '0')],
};

const GERMAN: Phrasebook = Phrasebook {
    leads: &["öffne", "starte", "frag", "frage", "sag", "sage", "bitte"],
    joiners: &["und", "dass"],
    open: "öffne",
    help: &["hilfe", "hilf mir", "was kann ich sagen"],
    stop: &["stopp", "stop", "halt", "aufhören", "sei still"],
    cancel: &["abbrechen", "vergiss es", "egal"],
    home: &["nach hause", "startseite"],
    end: &["beenden", "tschüss", "auf wiedersehen"],
    digits: [
        "null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
    ],
    other_digits: &[("zwo", '2'), ("ein", '1')],
};

impl Phrasebook {
    /// Whether a heard word says digits: "four", "oh", "4", "1234".
    fn is_digits(&self, word: &str) -> bool {
        self.digits.contains(&word)
            || self.other_digits.iter().any(|(w, _)| *w == word)
            || (!word.is_empty() && word.chars().all(|c| c.is_ascii_digit()))
    }
}

fn phrasebook(language: Language) -> &'static Phrasebook {
    match language {
        Language::English => &ENGLISH,
        Language::German => &GERMAN,
    }
}

/// The language a locale speaks: German for `de-*`, else English.
pub fn language_of(locale: &str) -> Language {
    if locale.to_ascii_lowercase().starts_with("de") {
        Language::German
    } else {
        Language::English
    }
}

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
    /// The locale, e.g. `de-DE` (not in the file: its name).
    #[serde(skip)]
    pub locale: String,
    /// The locale's language.
    #[serde(skip, default = "english")]
    pub language: Language,
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
    /// Its id (`LARGE`), the same in every locale.
    #[serde(default)]
    pub id: Option<String>,
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

fn english() -> Language {
    Language::English
}

/// The skill's en-US language model, parsed from [`INTERACTION_MODEL`].
pub fn language_model() -> anyhow::Result<LanguageModel> {
    language_model_for("en-US")
}

/// The language model of `locale` (one of [`LOCALES`]; case and `_` for
/// `-` do not matter).
pub fn language_model_for(locale: &str) -> anyhow::Result<LanguageModel> {
    let wanted = locale.trim().replace('_', "-");
    let (locale, json) = INTERACTION_MODELS
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(&wanted))
        .ok_or_else(|| {
            anyhow!(
                "there is no interaction model for the locale \"{}\"; the skill speaks {}",
                locale.trim(),
                LOCALES.join(", ")
            )
        })?;
    let file: ModelFile = serde_json::from_str(json)
        .with_context(|| format!("the {locale} interaction model is not valid JSON"))?;
    let mut model = file.interaction_model.language_model;
    model.locale = (*locale).to_owned();
    model.language = language_of(locale);
    Ok(model)
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

/// "one two three four" → "1234" ("eins zwei drei vier" in German), as
/// Alexa fills `AMAZON.FOUR_DIGIT_NUMBER`.
fn spoken_digits(phrases: &Phrasebook, text: &str) -> String {
    words(text)
        .iter()
        .map(|w| match phrases.digits.iter().position(|n| n == w) {
            Some(d) => d.to_string(),
            None => match phrases.other_digits.iter().find(|(word, _)| word == w) {
                Some((_, digit)) => digit.to_string(),
                None => w.clone(),
            },
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
        let phrases = phrasebook(self.language);
        let mut heard = words(said);
        if heard.first().is_some_and(|w| w == "alexa") {
            heard.remove(0);
        }
        let invocation = words(&self.invocation_name);
        if let Some(lead) = heard.first()
            && phrases.leads.contains(&lead.as_str())
            && heard[1..].starts_with(&invocation)
        {
            let rest = &heard[1 + invocation.len()..];
            let rest = match rest.first() {
                Some(joiner) if phrases.joiners.contains(&joiner.as_str()) => &rest[1..],
                _ => rest,
            };
            if rest.is_empty() {
                return Utterance::Launch;
            }
            heard = rest.to_vec();
        }
        let phrase = heard.join(" ");
        let phrase = phrase.as_str();
        if phrases.end.contains(&phrase) {
            return Utterance::SessionEnded;
        }
        let builtin = [
            (phrases.help, IntentName::Help),
            (phrases.stop, IntentName::Stop),
            (phrases.cancel, IntentName::Cancel),
            (phrases.home, IntentName::NavigateHome),
        ]
        .into_iter()
        .find_map(|(said, name)| said.contains(&phrase).then_some(name));
        if let Some(name) = builtin {
            return Utterance::Intent {
                name,
                slots: vec![],
            };
        }
        // First with number slots taking spoken digits only, as Alexa fills
        // them ("authorize the order with 1 2 3 4" is that sample, not
        // "authorize {Code}"); then with any words, so a misheard code still
        // reaches its intent, where the skill asks for it again.
        for digits_only in [true, false] {
            for intent in &self.intents {
                let is_number = |slot: &str| {
                    intent
                        .slots
                        .iter()
                        .any(|s| s.name == slot && s.kind == "AMAZON.FOUR_DIGIT_NUMBER")
                };
                let accepts = |slot: &str, taken: &[String]| {
                    !digits_only || !is_number(slot) || taken.iter().all(|w| phrases.is_digits(w))
                };
                for sample in &intent.samples {
                    if let Some(slots) = match_sample(&sample_words(sample), &heard, &accepts) {
                        let slots = slots
                            .into_iter()
                            .map(|(name, value)| {
                                let value = if is_number(&name) {
                                    spoken_digits(phrases, &value)
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
        }
        Utterance::Intent {
            name: IntentName::Fallback,
            slots: vec![],
        }
    }

    /// The canonical value for a heard slot value of a custom type, if it
    /// is a value or synonym of that type (entity resolution).
    pub fn resolve(&self, slot_type: &str, heard: &str) -> Option<&str> {
        self.resolve_value(slot_type, heard)
            .map(|v| v.name.value.as_str())
    }

    /// The value (with its id) a heard slot value of a custom type resolves
    /// to, if it is a value or synonym of that type.
    pub fn resolve_value(&self, slot_type: &str, heard: &str) -> Option<&SlotTypeValue> {
        let heard = heard.trim().to_lowercase();
        let kind = self.types.iter().find(|t| t.name == slot_type)?;
        kind.values.iter().find(|v| {
            v.name.value.to_lowercase() == heard
                || v.name.synonyms.iter().any(|s| s.to_lowercase() == heard)
        })
    }

    /// How to open the skill in this model's language: "open pizza on demand".
    pub fn launch_phrase(&self) -> String {
        format!(
            "{} {}",
            phrasebook(self.language).open,
            self.invocation_name
        )
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

/// Matches sample words (with `{slot}` placeholders) against heard words;
/// `accepts(slot, words)` says whether a slot may take those words.
fn match_sample(
    sample: &[String],
    heard: &[String],
    accepts: &dyn Fn(&str, &[String]) -> bool,
) -> Option<Vec<(String, String)>> {
    match sample.split_first() {
        None => heard.is_empty().then(Vec::new),
        Some((first, rest)) => {
            if let Some(slot) = first.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                // A slot takes one or more words; try the shortest first so the
                // literal words after it still match.
                for take in 1..=heard.len() {
                    if !accepts(slot, &heard[..take]) {
                        continue;
                    }
                    if let Some(mut found) = match_sample(rest, &heard[take..], accepts) {
                        found.insert(0, (slot.to_owned(), heard[..take].join(" ")));
                        return Some(found);
                    }
                }
                None
            } else if heard.first() == Some(first) {
                match_sample(rest, &heard[1..], accepts)
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pod_domain::{Pizza, PizzaSize, Topping};

    fn intent(name: &str, slots: &[(&str, &str)]) -> Utterance {
        Utterance::intent(name, slots)
    }

    fn models() -> Vec<LanguageModel> {
        LOCALES
            .iter()
            .map(|locale| language_model_for(locale).unwrap())
            .collect()
    }

    /// The id an interaction model gives a canonical name ("extra cheese" → `EXTRA_CHEESE`).
    fn id_of(name: &str) -> String {
        name.to_uppercase().replace(' ', "_")
    }

    #[test]
    fn utterances_match_the_interaction_model() {
        let model = language_model().unwrap();
        assert_eq!(model.locale, "en-US");
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
            (
                "authorize the order with one two three four",
                intent("AuthorizePizzaOrderIntent", &[("Code", "1234")]),
            ),
            (
                "authorize banana",
                intent("AuthorizePizzaOrderIntent", &[("Code", "banana")]),
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
        assert_eq!(model.launch_phrase(), "open pizza on demand");
    }

    #[test]
    fn german_utterances_match_the_german_model() {
        let model = language_model_for("de-DE").unwrap();
        assert_eq!(model.language, Language::German);
        let cases = [
            ("Alexa, öffne Pizza on Demand", Utterance::Launch),
            (
                "Alexa, sag Pizza on Demand, bestelle eine große Pizza mit Salami und Pilzen",
                intent(
                    "GetMeSomePizzaIntent",
                    &[("Size", "große"), ("Toppings", "salami und pilzen")],
                ),
            ),
            (
                "ich möchte eine Pizza mit Schinken",
                intent("GetMeSomePizzaIntent", &[("Toppings", "schinken")]),
            ),
            ("Pizza bestellen", intent("GetMeSomePizzaIntent", &[])),
            (
                "bestätige sieben sieben null fünf",
                intent("AuthorizePizzaOrderIntent", &[("Code", "7705")]),
            ),
            (
                "der Code ist eins zwo drei vier",
                intent("AuthorizePizzaOrderIntent", &[("Code", "1234")]),
            ),
            ("Hilfe", intent("AMAZON.HelpIntent", &[])),
            ("stopp", intent("AMAZON.StopIntent", &[])),
            ("abbrechen", intent("AMAZON.CancelIntent", &[])),
            ("sing mir ein Lied", intent("AMAZON.FallbackIntent", &[])),
            ("get me a large pizza", intent("AMAZON.FallbackIntent", &[])),
            ("tschüss", Utterance::SessionEnded),
        ];
        for (said, expected) in cases {
            assert_eq!(model.understand(said), expected, "{said}");
        }
        assert_eq!(model.launch_phrase(), "öffne pizza on demand");
    }

    #[test]
    fn every_locale_has_a_model_and_unknown_ones_are_refused() {
        for (model, locale) in models().iter().zip(LOCALES) {
            assert_eq!(model.locale, locale);
        }
        assert_eq!(language_model_for("de_de").unwrap().locale, "de-DE");
        let error = language_model_for("fr-FR").unwrap_err().to_string();
        assert!(
            error.contains("fr-FR") && error.contains("de-DE"),
            "{error}"
        );
    }

    #[test]
    fn every_model_has_the_same_intents_and_slots() {
        /// An intent's name, its slots (name, type), whether it has no samples.
        type Shape = (String, Vec<(String, String)>, bool);
        let shape = |model: &LanguageModel| -> Vec<Shape> {
            model
                .intents
                .iter()
                .map(|i| {
                    let slots = i
                        .slots
                        .iter()
                        .map(|s| (s.name.clone(), s.kind.clone()))
                        .collect();
                    (i.name.clone(), slots, i.samples.is_empty())
                })
                .collect()
        };
        let types = |model: &LanguageModel| -> Vec<(String, Vec<Option<String>>)> {
            model
                .types
                .iter()
                .map(|t| {
                    (
                        t.name.clone(),
                        t.values.iter().map(|v| v.id.clone()).collect(),
                    )
                })
                .collect()
        };
        let us = language_model().unwrap();
        for model in models() {
            assert_eq!(model.invocation_name, "pizza on demand", "{}", model.locale);
            assert_eq!(shape(&model), shape(&us), "{}", model.locale);
            assert_eq!(types(&model), types(&us), "{}", model.locale);
        }
        for required in [
            "AMAZON.HelpIntent",
            "AMAZON.StopIntent",
            "AMAZON.CancelIntent",
            "AMAZON.FallbackIntent",
            "AMAZON.NavigateHomeIntent",
        ] {
            assert!(us.intents.iter().any(|i| i.name == required), "{required}");
        }
    }

    #[test]
    fn the_model_and_the_domain_share_one_vocabulary() {
        for model in models() {
            let vocabulary = |type_name: &str| -> Vec<(String, String, Vec<String>)> {
                let kind = model.types.iter().find(|t| t.name == type_name).unwrap();
                kind.values
                    .iter()
                    .map(|v| {
                        (
                            v.id.clone().unwrap_or_default(),
                            v.name.value.to_lowercase(),
                            v.name.synonyms.iter().map(|s| s.to_lowercase()).collect(),
                        )
                    })
                    .collect()
            };
            let language = model.language;
            let domain = |id: String, words: pod_domain::Words| {
                (
                    id,
                    words.value.to_owned(),
                    words.synonyms.iter().map(|s| (*s).to_owned()).collect(),
                )
            };
            let sizes: Vec<_> = PizzaSize::ALL
                .iter()
                .map(|s| domain(id_of(s.name()), s.words(language)))
                .collect();
            let toppings: Vec<_> = Topping::ALL
                .iter()
                .map(|t| domain(id_of(t.name()), t.words(language)))
                .collect();
            assert_eq!(vocabulary("PIZZA_SIZE"), sizes, "{}", model.locale);
            assert_eq!(vocabulary("PIZZA_TOPPINGS"), toppings, "{}", model.locale);
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
        let german = language_model_for("de-DE").unwrap();
        let resolved = german.resolve_value("PIZZA_SIZE", "Große").unwrap();
        assert_eq!(
            (resolved.name.value.as_str(), resolved.id.as_deref()),
            ("groß", Some("LARGE"))
        );
        assert_eq!(
            german.resolve("PIZZA_TOPPINGS", "champignons"),
            Some("Pilze")
        );
    }

    /// A slot filled: what is said, the value the matcher hands on, and the
    /// ids it means.
    type Filling = (String, String, Vec<String>);

    /// What a slot of `kind` may be filled with in `model`.
    fn fillings(model: &LanguageModel, kind: &str) -> Vec<Filling> {
        if kind == "AMAZON.FOUR_DIGIT_NUMBER" {
            let spoken: &[(&str, &str)] = match model.language {
                Language::English => &[
                    ("one two three four", "1234"),
                    ("seven seven oh five", "7705"),
                    ("9876", "9876"),
                ],
                Language::German => &[
                    ("eins zwei drei vier", "1234"),
                    ("sieben sieben null fünf", "7705"),
                    ("9876", "9876"),
                ],
            };
            return spoken
                .iter()
                .map(|(said, digits)| ((*said).to_owned(), (*digits).to_owned(), vec![]))
                .collect();
        }
        let values = &model
            .types
            .iter()
            .find(|t| t.name == kind)
            .unwrap_or_else(|| panic!("{}: no slot type {kind}", model.locale))
            .values;
        let mut fillings: Vec<Filling> = values
            .iter()
            .flat_map(|v| {
                let id = v.id.clone().unwrap();
                std::iter::once(&v.name.value)
                    .chain(&v.name.synonyms)
                    .map(move |said| (said.clone(), words(said).join(" "), vec![id.clone()]))
            })
            .collect();
        if kind == "PIZZA_TOPPINGS" {
            // Several toppings in one slot, as people say them.
            let and = match model.language {
                Language::English => "and",
                Language::German => "und",
            };
            let (a, b, c) = (&values[0], &values[1], &values[4]);
            let said = format!("{}, {} {and} {}", a.name.value, b.name.value, c.name.value);
            let ids = [a, b, c].iter().map(|v| v.id.clone().unwrap()).collect();
            fillings.push((said.clone(), words(&said).join(" "), ids));
        }
        fillings
    }

    /// The pizza the skill would build from these slots: entity resolution
    /// as the simulator sends it, then the domain's parsing.
    fn pizza_from(model: &LanguageModel, slots: &[(String, String)]) -> Pizza {
        let slot = |name: &str, kind: &str| {
            slots.iter().find(|(n, _)| n == name).map(|(_, heard)| {
                model
                    .resolve(kind, heard)
                    .map_or(heard.clone(), str::to_owned)
            })
        };
        let size = slot("Size", "PIZZA_SIZE");
        let toppings = slot("Toppings", "PIZZA_TOPPINGS");
        Pizza::from_spoken(size.as_deref(), toppings.as_deref())
            .unwrap_or_else(|e| panic!("{}: {slots:?}: {e}", model.locale))
    }

    #[test]
    fn every_sample_of_every_model_is_understood_as_its_intent() {
        let mut counts = Vec::new();
        for model in models() {
            let locale = model.locale.as_str();
            let one_shot = match model.language {
                Language::English => "Alexa, ask pizza on demand to",
                Language::German => "Alexa, sag pizza on demand,",
            };
            let (mut samples, mut utterances) = (0, 0);
            for intent in &model.intents {
                for sample in &intent.samples {
                    samples += 1;
                    let placeholders: Vec<&str> = sample
                        .split_whitespace()
                        .filter_map(|w| w.strip_prefix('{').and_then(|w| w.strip_suffix('}')))
                        .collect();
                    let candidates: Vec<Vec<Filling>> = placeholders
                        .iter()
                        .map(|slot| {
                            let kind = model.slot_type(&intent.name, slot).unwrap_or_else(|| {
                                panic!("{locale}: {sample}: no slot {slot} in {}", intent.name)
                            });
                            fillings(&model, kind)
                        })
                        .collect();
                    // Every value and synonym of every slot, each at least once.
                    let rounds = candidates.iter().map(Vec::len).max().unwrap_or(1);
                    for round in 0..rounds {
                        let mut said = sample.clone();
                        let mut expected_slots = Vec::new();
                        let mut expected_ids = Vec::new();
                        for (slot, fill) in placeholders.iter().zip(&candidates) {
                            let (spoken, value, ids) = &fill[round % fill.len()];
                            said = said.replace(&format!("{{{slot}}}"), spoken);
                            expected_slots.push(((*slot).to_owned(), value.clone()));
                            expected_ids.push(((*slot).to_owned(), ids.clone()));
                        }
                        let expected = Utterance::Intent {
                            name: intent.name.as_str().into(),
                            slots: expected_slots.clone(),
                        };
                        for utterance in [said.clone(), format!("{one_shot} {said}")] {
                            utterances += 1;
                            assert_eq!(
                                model.understand(&utterance),
                                expected,
                                "{locale}: \"{utterance}\" (sample \"{sample}\")"
                            );
                        }
                        if intent.name == "GetMeSomePizzaIntent" {
                            let pizza = pizza_from(&model, &expected_slots);
                            for (slot, ids) in &expected_ids {
                                let got: Vec<String> = if slot == "Size" {
                                    vec![id_of(pizza.size().name())]
                                } else {
                                    pizza.toppings().iter().map(|t| id_of(t.name())).collect()
                                };
                                assert_eq!(&got, ids, "{locale}: \"{said}\"");
                            }
                        }
                    }
                }
            }
            assert!(samples >= 15, "{locale}: only {samples} samples");
            counts.push(format!(
                "{locale}: {samples} samples, {utterances} utterances"
            ));
        }
        eprintln!("{}", counts.join("\n"));
    }

    #[test]
    fn the_skill_manifest_subscribes_to_the_skill_events_pod_answers_at_its_endpoint() {
        let manifest: serde_json::Value =
            serde_json::from_str(include_str!("../../../skill-package/skill.json")).unwrap();
        let manifest = &manifest["manifest"];
        let custom = &manifest["apis"]["custom"];
        // Skill events go to the same, verified endpoint.
        assert_eq!(manifest["events"]["endpoint"], custom["endpoint"]);
        let subscribed: Vec<&str> = manifest["events"]["subscriptions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["eventName"].as_str().unwrap())
            .collect();
        assert_eq!(
            subscribed,
            [
                "SKILL_ENABLED",
                "SKILL_DISABLED",
                "SKILL_ACCOUNT_LINKED",
                "SKILL_PERMISSION_ACCEPTED",
                "SKILL_PERMISSION_CHANGED"
            ]
        );
        assert_eq!(
            custom["interfaces"],
            serde_json::json!([{"type": "CAN_FULFILL_INTENT_REQUEST"}])
        );
    }

    #[test]
    fn the_skill_manifest_publishes_every_locale_with_phrases_the_models_understand() {
        let manifest: serde_json::Value =
            serde_json::from_str(include_str!("../../../skill-package/skill.json")).unwrap();
        let manifest = &manifest["manifest"];
        let keys = |value: &serde_json::Value| -> Vec<String> {
            let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        let mut locales: Vec<String> = LOCALES.iter().map(|l| (*l).to_owned()).collect();
        locales.sort();
        let published = &manifest["publishingInformation"]["locales"];
        assert_eq!(keys(published), locales);
        assert_eq!(keys(&manifest["privacyAndCompliance"]["locales"]), locales);
        for model in models() {
            let entry = &published[model.locale.as_str()];
            assert_eq!(entry["name"], "Pizza on Demand");
            let summary = entry["summary"].as_str().unwrap();
            assert!(summary.chars().count() <= 120, "{}", model.locale);
            let phrases = entry["examplePhrases"].as_array().unwrap();
            assert!((1..=3).contains(&phrases.len()));
            for phrase in phrases {
                let phrase = phrase.as_str().unwrap();
                match model.understand(phrase) {
                    Utterance::Launch => {}
                    Utterance::Intent { name, slots } => {
                        assert_eq!(name.as_str(), "GetMeSomePizzaIntent", "{phrase}");
                        pizza_from(&model, &slots);
                    }
                    Utterance::SessionEnded => panic!("{phrase}"),
                }
            }
        }
    }
}
