//! What the simulator prints, for people: what it heard, what Alexa would
//! say, and why a turn failed. Never Rust `Debug` output.

use std::fmt;
use std::io::Write;

use anyhow::anyhow;
use pod_alexa::envelope::{Card, ResponseEnvelope};

use super::device::SkillAnswer;
use super::model::Utterance;

impl fmt::Display for Utterance {
    /// `LaunchRequest`, `SessionEndedRequest`, or the intent and its slots:
    /// `GetMeSomePizzaIntent (Size=large, Toppings=pepperoni)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Utterance::Launch => f.write_str("LaunchRequest"),
            Utterance::SessionEnded => f.write_str("SessionEndedRequest"),
            Utterance::Intent { name, slots } => {
                f.write_str(name.as_str())?;
                if !slots.is_empty() {
                    let slots: Vec<String> =
                        slots.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    write!(f, " ({})", slots.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

/// The envelope of a successful answer, or an error saying what went wrong
/// (the status, and what to do about it).
pub(super) fn successful<'a>(
    url: &str,
    answer: &'a SkillAnswer,
) -> anyhow::Result<&'a ResponseEnvelope> {
    if !(200..300).contains(&answer.status) {
        return Err(refusal(url, answer));
    }
    answer.envelope.as_ref().ok_or_else(|| {
        anyhow!(
            "HTTP {} from {url}, but the answer is not an Alexa response envelope",
            answer.status
        )
    })
}

/// The error for a non-2xx answer.
fn refusal(url: &str, answer: &SkillAnswer) -> anyhow::Error {
    let status = answer.status;
    let base = url.trim_end_matches('/');
    if status == 404 {
        return if base.ends_with("/alexa") {
            anyhow!(
                "HTTP 404 from {url}: no skill endpoint there; if the server has a base path (POD_BASE_PATH), it goes before /alexa"
            )
        } else {
            anyhow!("HTTP 404 from {url}: the skill endpoint is {base}/alexa")
        };
    }
    let body = &answer.body;
    let detail = match (
        body["error"].as_str(),
        body["message"].as_str(),
        body.as_str(),
    ) {
        (Some(code), Some(message), _) => format!("{message} ({code})"),
        (Some(code), None, _) => code.to_owned(),
        (None, _, Some(text)) if !text.trim().is_empty() => {
            let text: String = text.trim().chars().take(200).collect();
            text.replace(['\r', '\n'], " ")
        }
        _ => "the skill refused the request".to_owned(),
    };
    anyhow!("HTTP {status} from {url}: {detail}")
}

/// Prints an answer as Alexa would present it: the speech, the reprompt,
/// the card, and whether the session stays open.
pub(super) fn print_answer(answer: &ResponseEnvelope, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "Alexa: {}", answer.speech().unwrap_or("(silence)"))?;
    if let Some(reprompt) = answer.reprompt() {
        writeln!(out, "  reprompt: {reprompt}")?;
    }
    match &answer.response.card {
        Some(Card::LinkAccount) => writeln!(
            out,
            "  card: LinkAccount (link your account in the Alexa app)"
        )?,
        Some(Card::Simple { title, content }) => writeln!(out, "  card: {title}: {content}")?,
        None => {}
    }
    writeln!(
        out,
        "  session {}",
        if answer.ends_session() {
            "ended"
        } else {
            "open"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, body: serde_json::Value) -> SkillAnswer {
        let envelope = serde_json::from_value(body.clone()).ok();
        SkillAnswer {
            status,
            body,
            envelope,
        }
    }

    #[test]
    fn what_was_heard_reads_like_a_sentence() {
        let order = Utterance::Intent {
            name: "GetMeSomePizzaIntent".into(),
            slots: vec![
                ("Size".into(), "large".into()),
                ("Toppings".into(), "pepperoni".into()),
            ],
        };
        assert_eq!(
            order.to_string(),
            "GetMeSomePizzaIntent (Size=large, Toppings=pepperoni)"
        );
        let help = Utterance::Intent {
            name: "AMAZON.HelpIntent".into(),
            slots: vec![],
        };
        assert_eq!(help.to_string(), "AMAZON.HelpIntent");
        assert_eq!(Utterance::Launch.to_string(), "LaunchRequest");
    }

    #[test]
    fn refusals_say_what_to_do() {
        let not_found = answer(
            404,
            json!({"error": "not_found", "message": "no such route"}),
        );
        let message = |url: &str, a: &SkillAnswer| successful(url, a).unwrap_err().to_string();
        assert_eq!(
            message("http://127.0.0.1:7100", &not_found),
            "HTTP 404 from http://127.0.0.1:7100: the skill endpoint is http://127.0.0.1:7100/alexa"
        );
        assert_eq!(
            message("http://127.0.0.1:7100/pod/", &not_found),
            "HTTP 404 from http://127.0.0.1:7100/pod/: the skill endpoint is http://127.0.0.1:7100/pod/alexa"
        );
        assert!(message("http://h/alexa", &not_found).contains("POD_BASE_PATH"));
        let refused = answer(
            400,
            json!({"error": "cert_url", "message": "bad SignatureCertChainUrl: host is not s3.amazonaws.com"}),
        );
        assert_eq!(
            message("http://h/alexa", &refused),
            "HTTP 400 from http://h/alexa: bad SignatureCertChainUrl: host is not s3.amazonaws.com (cert_url)"
        );
        let gateway = answer(502, json!("<html>\nBad Gateway\n</html>"));
        assert_eq!(
            message("http://h/alexa", &gateway),
            "HTTP 502 from http://h/alexa: <html> Bad Gateway </html>"
        );
        let not_alexa = answer(200, json!({"hello": "world"}));
        assert!(message("http://h/alexa", &not_alexa).contains("not an Alexa response envelope"));
    }

    #[test]
    fn answers_print_speech_card_and_session() {
        let mut out = Vec::new();
        let answer = ResponseEnvelope::ask("Welcome.", "Say something.").with_simple_card("T", "C");
        print_answer(&answer, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Alexa: Welcome.\n  reprompt: Say something.\n  card: T: C\n  session open\n"
        );
        let mut out = Vec::new();
        print_answer(&ResponseEnvelope::empty(), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Alexa: (silence)\n  session ended\n"
        );
    }
}
