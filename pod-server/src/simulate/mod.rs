//! A conversation simulator: turns an utterance into the request Alexa would
//! send (matched against the skill's interaction model, with a fresh
//! timestamp and request id), signs it with the development CA and posts it.
//!
//! - `model`: the interaction model and the matching of utterances;
//! - `device`: [`Simulator`], which builds request envelopes with
//!   pod-alexa's types, signs and posts them, and [`SkillAnswer`];
//! - `print`: what the commands print, and their errors, in words;
//! - `record`: recorded dialogs (`pod dialog --record` / `--replay`);
//! - here: the flags of `pod simulate` and `pod dialog`, and the commands.
//!
//! Both commands print the answer on stdout, what was heard on stderr, and
//! fail (stderr, exit status 1) when the skill answers anything but 2xx or
//! nothing answers at all.

mod device;
mod model;
mod print;
mod record;

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;

use crate::app::dev_signing_keys;
use crate::settings::DataArgs;
pub use device::{DEV_SKILL_ID, Simulator, SkillAnswer};
pub use model::{
    INTERACTION_MODEL, INTERACTION_MODELS, LOCALES, LanguageModel, ModelIntent, ModelSlot,
    SlotType, SlotTypeValue, SlotValueName, Utterance, language_model, language_model_for,
    language_of,
};
use print::{print_answer, successful};
pub use record::{
    AnswerEssentials, CODE_VARIABLE, CardEssentials, FORMAT, Recording, RequestEssentials, Turn,
    WRONG_CODE_VARIABLE, read_recording,
};

/// Who speaks to which endpoint: the flags `pod simulate` and `pod dialog`
/// share.
#[derive(Debug, Clone, clap::Args)]
pub struct Speaker {
    /// The local user to speak as (their access token is attached).
    #[arg(long, conflicts_with = "access_token")]
    pub user: Option<String>,
    /// The access token to attach as is, such as the one account linking gave Alexa.
    #[arg(long, env = "POD_SIMULATE_ACCESS_TOKEN", hide_env_values = true)]
    pub access_token: Option<String>,
    /// The skill endpoint.
    #[arg(
        long,
        env = "POD_SIMULATE_URL",
        default_value = "http://127.0.0.1:7100/alexa"
    )]
    pub url: String,
    /// The skill id to send (default: the first of POD_SKILL_ID, or a development id).
    #[arg(long, env = "POD_SKILL_ID")]
    pub skill_id: Option<String>,
    /// The locale to speak: en-US, en-GB, en-CA, en-AU, en-IN or de-DE. The
    /// utterance is matched against that locale's interaction model and
    /// every request carries it.
    #[arg(long, env = "POD_SIMULATE_LOCALE", default_value = "en-US")]
    pub locale: String,
}

/// Flags of `pod simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Who speaks, and to which endpoint.
    #[command(flatten)]
    pub speaker: Speaker,
    /// The intent to send, skipping the utterance matching.
    #[arg(long)]
    pub intent: Option<String>,
    /// A slot value for --intent, as Key=Value (repeatable).
    #[arg(long = "slot", value_parser = parse_slot)]
    pub slots: Vec<(String, String)>,
    /// Print the whole response envelope as JSON.
    #[arg(long)]
    pub json: bool,
    /// What the person says, e.g. "get me a large pizza with pepperoni".
    pub utterance: Option<String>,
}

/// Flags of `pod dialog`.
#[derive(Debug, Clone, clap::Args)]
pub struct DialogArgs {
    /// Who speaks, and to which endpoint.
    #[command(flatten)]
    pub speaker: Speaker,
    /// Save the conversation to FILE (each utterance, the request's
    /// essentials and the answer), the code said as {code}.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    pub record: Option<PathBuf>,
    /// Say a recorded conversation again and fail on the first answer
    /// that differs (the recording's locale and user, unless --user is
    /// given; {code} is the user's last code in the outbox).
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
}

fn parse_slot(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("\"{raw}\" is not Key=Value"))
}

async fn simulator_for(data: &DataArgs, speaker: &Speaker) -> anyhow::Result<Simulator> {
    let token = match (speaker.user.as_deref(), &speaker.access_token) {
        (Some(name), _) => {
            Some(crate::cli::issue_token(data, name, Duration::from_secs(3600)).await?)
        }
        (None, Some(token)) => Some(token.clone()),
        (None, None) => None,
    };
    let keys = dev_signing_keys(&data.data_dir)?;
    Simulator::new(&speaker.url, keys, token, speaker.skill_id.clone())?
        .with_locale(&speaker.locale)
}

/// `pod simulate`.
pub async fn simulate_command(args: SimulateArgs, data: &DataArgs) -> anyhow::Result<()> {
    let mut simulator = simulator_for(data, &args.speaker).await?;
    let answer = match (&args.intent, &args.utterance) {
        (Some(intent), _) => simulator.intent(intent, &args.slots).await?,
        (None, Some(utterance)) => {
            let understood = simulator.model().understand(utterance);
            eprintln!("You: {utterance}\n  heard: {understood}");
            simulator.send(&understood).await?
        }
        (None, None) => {
            bail!("say something: pod simulate --user demo \"get me a large pizza with pepperoni\"")
        }
    };
    let envelope = successful(simulator.url(), &answer)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&answer.body)?)?;
    } else {
        print_answer(envelope, &mut out)?;
    }
    Ok(())
}

/// `pod dialog`: one utterance per line until the session ends or input does.
pub async fn dialog_command(args: DialogArgs, data: &DataArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.replay {
        return record::replay(path, &args.speaker, data).await;
    }
    let mut simulator = simulator_for(data, &args.speaker).await?;
    let mut recorder = args.record.as_deref().map(|path| {
        record::Recorder::new(
            path,
            &data.data_dir,
            simulator.locale(),
            args.speaker.user.as_deref(),
        )
    });
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    writeln!(
        out,
        "Talk to Pizza on Demand in {} (an empty line or Ctrl-D ends). Try: {}",
        simulator.locale(),
        simulator.model().launch_phrase()
    )?;
    loop {
        write!(out, "You: ")?;
        out.flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 || line.trim().is_empty() {
            if simulator.in_session() {
                let answer = simulator.send(&Utterance::SessionEnded).await?;
                successful(simulator.url(), &answer)?;
            }
            return Ok(());
        }
        let understood = simulator.model().understand(line.trim());
        eprintln!("  heard: {understood}");
        let new_session = !simulator.in_session();
        let answer = simulator.send(&understood).await?;
        let envelope = successful(simulator.url(), &answer)?;
        print_answer(envelope, &mut out.lock())?;
        if let Some(recorder) = &mut recorder {
            recorder.turn(line.trim(), &understood, new_session, envelope)?;
        }
    }
}
