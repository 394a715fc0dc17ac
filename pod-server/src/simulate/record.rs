//! Recorded dialogs, like `ask dialog --record` / `--replay`: `pod dialog
//! --record FILE` keeps each turn (what was said, the request's essentials
//! and the answer's), and `pod dialog --replay FILE` says the same things
//! again and fails on the first answer that differs.
//!
//! What changes from run to run is left out or made a variable: request
//! ids, session ids and timestamps are made afresh, and a one-time code the
//! person said is recorded as `{code}` ([`CODE_VARIABLE`]), which a replay
//! fills with the last order code the outbox holds for the user; any other
//! code of as many digits is recorded as `{wrong_code}`
//! ([`WRONG_CODE_VARIABLE`]), which a replay fills with a code that is
//! surely not that one (a literal wrong code would be right one run in ten
//! thousand).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use pod_adapters_local::Outbox;
use pod_alexa::envelope::{Card, ResponseEnvelope};
use serde::{Deserialize, Serialize};

use super::model::Utterance;
use super::print::{print_answer, successful};
use super::{Speaker, simulator_for};
use crate::settings::DataArgs;

/// What a spoken one-time code is recorded as.
pub const CODE_VARIABLE: &str = "{code}";

/// What a spoken code that was not the one sent is recorded as.
pub const WRONG_CODE_VARIABLE: &str = "{wrong_code}";

/// The format name of a recording's `format` field.
pub const FORMAT: &str = "pod-dialog/1";

/// A recorded dialog: the locale and user it was spoken in and as, and its
/// turns in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    /// [`FORMAT`].
    pub format: String,
    /// The locale every request carried, such as `en-US`.
    pub locale: String,
    /// The local user who spoke (their token was attached), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The turns.
    pub turns: Vec<Turn>,
}

/// One turn: what was said, what Alexa sent, what the skill answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// What the person said; a code as `{code}`.
    pub say: String,
    /// The request's essentials.
    pub request: RequestEssentials,
    /// The answer's essentials.
    pub answer: AnswerEssentials,
}

/// What matters of a request envelope (ids and timestamps are left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEssentials {
    /// `LaunchRequest`, `IntentRequest`, `SessionEndedRequest`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The intent's name, for an intent request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// The slots heard, by name; a code as `{code}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slots: BTreeMap<String, String>,
    /// Whether the request opened a session.
    #[serde(rename = "newSession")]
    pub new_session: bool,
}

/// What matters of an answer: what Alexa says and shows, and whether the
/// session stays open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerEssentials {
    /// The speech.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech: Option<String>,
    /// The reprompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reprompt: Option<String>,
    /// The card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardEssentials>,
    /// `shouldEndSession`.
    #[serde(rename = "shouldEndSession")]
    pub should_end_session: bool,
}

/// A card: its type and, for a `Simple` card, title and content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardEssentials {
    /// `Simple` or `LinkAccount`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

impl RequestEssentials {
    /// The essentials of the request sent for `utterance`.
    pub fn of(utterance: &Utterance, new_session: bool) -> Self {
        let (kind, intent, slots) = match utterance {
            Utterance::Launch => ("LaunchRequest", None, BTreeMap::new()),
            Utterance::SessionEnded => ("SessionEndedRequest", None, BTreeMap::new()),
            Utterance::Intent { name, slots } => (
                "IntentRequest",
                Some(name.as_str().to_owned()),
                slots.iter().cloned().collect(),
            ),
        };
        RequestEssentials {
            kind: kind.to_owned(),
            intent,
            slots,
            new_session,
        }
    }
}

impl AnswerEssentials {
    /// The essentials of a response envelope.
    pub fn of(answer: &ResponseEnvelope) -> Self {
        AnswerEssentials {
            speech: answer.speech().map(str::to_owned),
            reprompt: answer.reprompt().map(str::to_owned),
            card: answer.response.card.as_ref().map(|card| match card {
                Card::Simple { title, content } => CardEssentials {
                    kind: card.type_name().to_owned(),
                    title: Some(title.clone()),
                    content: Some(content.clone()),
                },
                Card::LinkAccount => CardEssentials {
                    kind: card.type_name().to_owned(),
                    title: None,
                    content: None,
                },
            }),
            should_end_session: answer.ends_session(),
        }
    }
}

/// The last order code the outbox in `data_dir` holds for `user`.
pub(super) fn last_order_code(
    data_dir: &Path,
    user: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let Some(user) = user else {
        return Ok(None);
    };
    let outbox = Outbox::in_data_dir(data_dir);
    let entries =
        Outbox::read(outbox.path(), Some(user), None).context("cannot read the outbox")?;
    Ok(entries
        .into_iter()
        .rev()
        .find(|entry| entry.purpose == "order")
        .map(|entry| entry.code))
}

/// Writes a dialog's turns to a file as they happen (the whole file again
/// after each turn, so an interrupted dialog keeps what was said).
#[derive(Debug)]
pub(super) struct Recorder {
    path: PathBuf,
    data_dir: PathBuf,
    recording: Recording,
}

impl Recorder {
    /// A recorder writing to `path`, reading codes from `data_dir`'s outbox.
    pub(super) fn new(path: &Path, data_dir: &Path, locale: &str, user: Option<&str>) -> Self {
        Recorder {
            path: path.to_owned(),
            data_dir: data_dir.to_owned(),
            recording: Recording {
                format: FORMAT.to_owned(),
                locale: locale.to_owned(),
                user: user.map(str::to_owned),
                turns: Vec::new(),
            },
        }
    }

    /// Records one turn, the code the user was last sent made `{code}`, and
    /// saves the file.
    pub(super) fn turn(
        &mut self,
        said: &str,
        utterance: &Utterance,
        new_session: bool,
        answer: &ResponseEnvelope,
    ) -> anyhow::Result<()> {
        let mut say = said.to_owned();
        let mut request = RequestEssentials::of(utterance, new_session);
        let code = last_order_code(&self.data_dir, self.recording.user.as_deref())?;
        if let Some(code) = code.filter(|code| !code.is_empty()) {
            let mut spoken = false;
            for value in request.slots.values_mut() {
                if *value == code {
                    *value = CODE_VARIABLE.to_owned();
                    spoken = true;
                } else if is_other_code(value, &code) {
                    say = say.replace(value.as_str(), WRONG_CODE_VARIABLE);
                    *value = WRONG_CODE_VARIABLE.to_owned();
                }
            }
            if spoken {
                if say.contains(&code) {
                    say = say.replace(&code, CODE_VARIABLE);
                } else {
                    eprintln!(
                        "  note: say codes as digits when recording (\"authorize 1234\"), \
                         so a replay can say the code it is sent"
                    );
                }
            }
        }
        self.recording.turns.push(Turn {
            say,
            request,
            answer: AnswerEssentials::of(answer),
        });
        self.save()
    }

    fn save(&self) -> anyhow::Result<()> {
        let mut json = serde_json::to_string_pretty(&self.recording)?;
        json.push('\n');
        std::fs::write(&self.path, json)
            .with_context(|| format!("cannot write the recording {}", self.path.display()))
    }
}

/// Reads a recording.
pub fn read_recording(path: &Path) -> anyhow::Result<Recording> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the recording {}", path.display()))?;
    let recording: Recording = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a recorded dialog", path.display()))?;
    if recording.format != FORMAT {
        bail!(
            "{}: format \"{}\" is not {FORMAT}",
            path.display(),
            recording.format
        );
    }
    Ok(recording)
}

/// Whether `value` is a code of as many digits as `code`, but not it.
fn is_other_code(value: &str, code: &str) -> bool {
    value != code
        && value.len() == code.len()
        && value.bytes().all(|b| b.is_ascii_digit())
        && code.bytes().all(|b| b.is_ascii_digit())
}

/// A code that differs from `code` in every digit (each one up by one).
pub(super) fn wrong_code(code: &str) -> String {
    code.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_digit((d + 1) % 10, 10).unwrap_or(c),
            None => c,
        })
        .collect()
}

/// `text` with `{code}` and `{wrong_code}` filled in from `code`.
pub(super) fn fill(text: &str, code: &str) -> String {
    text.replace(CODE_VARIABLE, code)
        .replace(WRONG_CODE_VARIABLE, &wrong_code(code))
}

/// The recorded request with `{code}` and `{wrong_code}` filled in.
pub(super) fn filled(request: &RequestEssentials, code: Option<&str>) -> RequestEssentials {
    let mut request = request.clone();
    if let Some(code) = code {
        for value in request.slots.values_mut() {
            *value = fill(value, code);
        }
    }
    request
}

/// Whether a turn needs the code (to say it, or a wrong one).
pub(super) fn needs_code(turn: &Turn) -> bool {
    let variable = |v: &str| v.contains(CODE_VARIABLE) || v.contains(WRONG_CODE_VARIABLE);
    variable(&turn.say) || turn.request.slots.values().any(|v| variable(v))
}

/// What differs between a recorded and a replayed value, field by field,
/// for people: `  speech:\n    - recorded: "…"\n    + replayed: "…"`.
pub(super) fn difference<T: Serialize>(recorded: &T, replayed: &T) -> String {
    let recorded = flatten(&serde_json::to_value(recorded).unwrap_or_default());
    let replayed = flatten(&serde_json::to_value(replayed).unwrap_or_default());
    let mut keys: Vec<&String> = recorded.keys().chain(replayed.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = String::new();
    for key in keys {
        let (a, b) = (recorded.get(key), replayed.get(key));
        if a != b {
            let show = |v: Option<&String>| v.map_or_else(|| "(none)".to_owned(), Clone::clone);
            let _ = writeln!(
                out,
                "  {key}:\n    - recorded: {}\n    + replayed: {}",
                show(a),
                show(b)
            );
        }
    }
    out
}

/// `{"card":{"title":"T"}}` as `card.title` → `"T"`.
fn flatten(value: &serde_json::Value) -> BTreeMap<String, String> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&path, value, out);
                }
            }
            other => {
                out.insert(prefix.to_owned(), other.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", value, &mut out);
    out
}

/// `pod dialog --replay FILE`: says each recorded utterance again (in the
/// recording's locale, as its user unless `speaker` names one) and fails
/// with the difference on the first request understood differently or the
/// first answer that differs.
pub(super) async fn replay(path: &Path, speaker: &Speaker, data: &DataArgs) -> anyhow::Result<()> {
    let recording = read_recording(path)?;
    let speaker = Speaker {
        user: speaker.user.clone().or_else(|| recording.user.clone()),
        locale: recording.locale.clone(),
        ..speaker.clone()
    };
    let mut simulator = simulator_for(data, &speaker).await?;
    let mut out = std::io::stdout();
    for (index, turn) in recording.turns.iter().enumerate() {
        let number = index + 1;
        let code = if needs_code(turn) {
            let code = last_order_code(&data.data_dir, speaker.user.as_deref())?;
            let Some(code) = code else {
                bail!(
                    "{}: turn {number} says {CODE_VARIABLE}, but the outbox has no order code for {}",
                    path.display(),
                    speaker.user.as_deref().unwrap_or("anyone (no --user)")
                );
            };
            Some(code)
        } else {
            None
        };
        let said = match &code {
            Some(code) => fill(&turn.say, code),
            None => turn.say.clone(),
        };
        let understood = simulator.model().understand(&said);
        let heard = RequestEssentials::of(&understood, !simulator.in_session());
        let expected = filled(&turn.request, code.as_deref());
        if heard != expected {
            bail!(
                "{}: turn {number} (\"{}\") was understood differently:\n{}",
                path.display(),
                turn.say,
                difference(&expected, &heard).trim_end()
            );
        }
        let answer = simulator.send(&understood).await?;
        let envelope = successful(simulator.url(), &answer)?;
        let replayed = AnswerEssentials::of(envelope);
        if replayed != turn.answer {
            bail!(
                "{}: turn {number} (\"{}\") got a different answer:\n{}",
                path.display(),
                turn.say,
                difference(&turn.answer, &replayed).trim_end()
            );
        }
        writeln!(out, "You: {}", turn.say)?;
        print_answer(envelope, &mut out.lock())?;
    }
    if simulator.in_session() {
        let answer = simulator.send(&Utterance::SessionEnded).await?;
        successful(simulator.url(), &answer)?;
    }
    writeln!(
        out,
        "{}: {} turns, every answer as recorded",
        path.display(),
        recording.turns.len()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_code_is_never_the_code() {
        // Every four-digit code, and a few longer ones.
        let longer = ["00000000", "99999", "1234567"].map(str::to_owned);
        for code in (0..10_000).map(|n| format!("{n:04}")).chain(longer) {
            let wrong = wrong_code(&code);
            assert!(is_other_code(&wrong, &code), "{code} -> {wrong}");
        }
    }

    #[test]
    fn only_other_codes_of_as_many_digits_are_wrong_codes() {
        assert!(is_other_code("0000", "4321"));
        assert!(!is_other_code("4321", "4321"));
        assert!(!is_other_code("000", "4321"));
        assert!(!is_other_code("large", "4321"));
        assert!(!is_other_code("12a4", "4321"));
    }

    #[test]
    fn a_difference_names_each_field_that_differs() {
        let recorded = AnswerEssentials {
            speech: Some("Order confirmed.".into()),
            reprompt: None,
            card: Some(CardEssentials {
                kind: "Simple".into(),
                title: Some("Order confirmed".into()),
                content: Some("A large pizza".into()),
            }),
            should_end_session: true,
        };
        let mut replayed = recorded.clone();
        assert_eq!(difference(&recorded, &replayed), "");
        replayed.speech = Some("That code is not right.".into());
        replayed.card = None;
        assert_eq!(
            difference(&recorded, &replayed),
            "  card.content:\n    - recorded: \"A large pizza\"\n    + replayed: (none)\n\
             \x20 card.title:\n    - recorded: \"Order confirmed\"\n    + replayed: (none)\n\
             \x20 card.type:\n    - recorded: \"Simple\"\n    + replayed: (none)\n\
             \x20 speech:\n    - recorded: \"Order confirmed.\"\n    + replayed: \"That code is not right.\"\n"
        );
    }

    #[test]
    fn a_code_is_filled_where_it_was_recorded() {
        let turn = Turn {
            say: "authorize {code}".into(),
            request: RequestEssentials {
                kind: "IntentRequest".into(),
                intent: Some("AuthorizePizzaOrderIntent".into()),
                slots: BTreeMap::from([("Code".to_owned(), CODE_VARIABLE.to_owned())]),
                new_session: false,
            },
            answer: AnswerEssentials {
                speech: None,
                reprompt: None,
                card: None,
                should_end_session: true,
            },
        };
        assert!(needs_code(&turn));
        assert_eq!(filled(&turn.request, Some("4321")).slots["Code"], "4321");
        let mut wrong = turn.clone();
        wrong.say = "authorize {wrong_code}".into();
        wrong
            .request
            .slots
            .insert("Code".to_owned(), WRONG_CODE_VARIABLE.to_owned());
        assert!(needs_code(&wrong));
        assert_eq!(filled(&wrong.request, Some("4321")).slots["Code"], "5432");
        assert_eq!(fill(&wrong.say, "0990"), "authorize 1001");
        let json = serde_json::to_value(&turn).unwrap();
        assert_eq!(json["request"]["newSession"], false);
        assert_eq!(json["answer"]["shouldEndSession"], true);
        assert!(json["answer"].get("card").is_none());
    }
}
