//! The `pod` command line.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use pod_adapters_local::{LocalAccessTokens, LocalTokenConfig, LocalUsers, Outbox, SystemClock};
use pod_ports::{AccountStore, Clock, StoreError};
use tracing_subscriber::EnvFilter;

use crate::app::{Application, local_token_key, open_store, shutdown_signal};
use crate::settings::{DataArgs, ServeArgs, Settings};
use crate::simulate::{self, SimulateArgs};

/// pod: per-interaction authentication for voice skills (Pizza on Demand).
#[derive(Debug, Parser)]
#[command(name = "pod", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (what plain `pod` does).
    Serve(Box<ServeArgs>),
    /// Manage the embedded mode's local users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Print an access token for a local user: what account linking would give Alexa.
    Token {
        /// The user name.
        name: String,
        /// How long the token is valid (e.g. 1h, 30d).
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
    /// Show the codes delivered to the outbox (embedded mode).
    Outbox {
        /// Only codes for this user (name, email or phone).
        #[arg(long)]
        user: Option<String>,
        /// Only the last N codes.
        #[arg(long)]
        last: Option<usize>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Send one utterance to the skill as Alexa would, signed, and print the answer.
    Simulate(SimulateArgs),
    /// Hold a conversation with the skill, keeping the session (like `ask dialog`).
    Dialog(simulate::DialogArgs),
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Add a user.
    Add {
        /// User name ([a-z0-9_.-], up to 32).
        name: String,
        /// Email address.
        #[arg(long)]
        email: String,
        /// Phone number (E.164, e.g. +15550100); codes go there by SMS.
        #[arg(long)]
        phone: Option<String>,
    },
    /// List users.
    List,
    /// Lift a user's voice-ordering lock after too many wrong codes.
    Unlock {
        /// User name.
        name: String,
    },
}

/// Logs to stderr; `RUST_LOG` filters (default `info`).
pub fn install_telemetry() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let data = cli.data;
    match cli.command {
        None => {
            let serve = ServeArgs::parse_from_env_only();
            serve_command(&serve, &data).await
        }
        Some(Command::Serve(serve)) => serve_command(&serve, &data).await,
        Some(Command::Users(command)) => users_command(command, &data).await,
        Some(Command::Token { name, ttl }) => token_command(&name, &ttl, &data).await,
        Some(Command::Outbox { user, last, json }) => {
            outbox_command(user.as_deref(), last, json, &data)
        }
        Some(Command::Simulate(args)) => simulate::simulate_command(args, &data).await,
        Some(Command::Dialog(args)) => simulate::dialog_command(args, &data).await,
    }
}

impl ServeArgs {
    /// The serve settings from defaults and `POD_*` variables alone (plain `pod`).
    fn parse_from_env_only() -> ServeArgs {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            serve: ServeArgs,
        }
        Only::parse_from(["pod"]).serve
    }
}

async fn serve_command(serve: &ServeArgs, data: &DataArgs) -> anyhow::Result<()> {
    let settings = Settings::load(serve, data, &|key| std::env::var(key).ok())?;
    let app = Application::build(&settings).await?;
    let addr = app.local_addr()?;
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let base = format!("{scheme}://{addr}{}", settings.base_path);
    tracing::info!(%addr, verify = ?settings.verify, "pod is listening");
    // One stable, parseable line whatever the log filter, so that scripts and
    // the black-box tests can start pod on port 0 and find it.
    eprintln!("pod listening on {scheme}://{addr}");
    if matches!(
        settings.identity,
        crate::settings::IdentitySettings::Embedded
    ) {
        // The simulator's default URL is the default address; name the URL
        // only when the server listens elsewhere.
        let url = if base == "http://127.0.0.1:7100" {
            String::new()
        } else {
            format!(" --url {base}/alexa")
        };
        eprintln!(
            "\npod is serving the embedded default at {base}\n\
             \n  Alexa endpoint   {base}/alexa\n  JSON API         {base}/api/orders\n  web app          {base}/app\n  health           {base}/healthz\n\
             \nTry a conversation from another terminal:\n\
             \n  pod simulate{url} --user demo \"get me a large pizza with pepperoni\"\n  pod outbox --last 1\n  pod simulate{url} --user demo \"authorize 1234\"   (the code from the outbox)\n\
             \nand watch it at {base}/app (sign in as demo with a code from the outbox).\n"
        );
    }
    app.run_until(shutdown_signal()).await
}

async fn users_command(command: UsersCommand, data: &DataArgs) -> anyhow::Result<()> {
    let store = Arc::new(open_store(&data.data_dir, data.database_url.as_deref()).await?);
    let users = LocalUsers::new(store.clone(), Arc::new(SystemClock));
    let mut out = std::io::stdout().lock();
    match command {
        UsersCommand::Add { name, email, phone } => {
            let user = users
                .add(&name, &email, phone.as_deref())
                .await
                .with_context(|| format!("cannot add {name}"))?;
            writeln!(
                out,
                "added {} ({}{})",
                user.name,
                user.email,
                user.phone.map(|p| format!(", {p}")).unwrap_or_default()
            )?;
        }
        UsersCommand::List => {
            for user in users.list().await? {
                writeln!(
                    out,
                    "{:<16} {:<32} {}",
                    user.name,
                    user.email,
                    user.phone.unwrap_or_default()
                )?;
            }
        }
        UsersCommand::Unlock { name } => {
            let Some(user) = users.find(&name).await? else {
                bail!("no user {name}")
            };
            let lifted = unlock(store.as_ref(), &user.id).await?;
            if lifted {
                writeln!(out, "unlocked {}", user.name)?;
            } else {
                writeln!(out, "{} was not locked", user.name)?;
            }
        }
    }
    Ok(())
}

/// An access token for a local user.
pub async fn issue_token(data: &DataArgs, name: &str, ttl: Duration) -> anyhow::Result<String> {
    let store = Arc::new(open_store(&data.data_dir, data.database_url.as_deref()).await?);
    let users = LocalUsers::new(store, Arc::new(SystemClock));
    let Some(user) = users.find(name).await? else {
        bail!("no user {name:?}; add one with `pod users add {name} --email ...`")
    };
    let key = local_token_key(&data.data_dir)?;
    let clock = Arc::new(SystemClock);
    let tokens = LocalAccessTokens::new(
        &key,
        LocalTokenConfig {
            audience: data.api_audience.clone(),
            ..Default::default()
        },
        clock.clone(),
    );
    Ok(tokens.issue(&user.id, ttl, clock.now()))
}

async fn token_command(name: &str, ttl: &str, data: &DataArgs) -> anyhow::Result<()> {
    let ttl = humantime::parse_duration(ttl)
        .with_context(|| format!("--ttl: {ttl:?} is not a duration like 1h"))?;
    let token = issue_token(data, name, ttl).await?;
    writeln!(std::io::stdout(), "{token}")?;
    Ok(())
}

fn outbox_command(
    user: Option<&str>,
    last: Option<usize>,
    json: bool,
    data: &DataArgs,
) -> anyhow::Result<()> {
    let outbox = Outbox::in_data_dir(&data.data_dir);
    let entries = Outbox::read(outbox.path(), user, last).context("cannot read the outbox")?;
    let mut out = std::io::stdout().lock();
    if entries.is_empty() && !json {
        writeln!(out, "the outbox is empty")?;
    }
    for entry in entries {
        if json {
            writeln!(out, "{}", serde_json::to_string(&entry)?)?;
        } else {
            writeln!(
                out,
                "{}  {:<5} {:<24} code {}",
                entry.at, entry.channel, entry.to, entry.code
            )?;
        }
    }
    Ok(())
}

/// Lifts a customer's account lock in one version-checked step (`pod users
/// unlock`); `false` when there was no run of failures to end.
async fn unlock(
    store: &dyn AccountStore,
    customer: &pod_ports::domain::CustomerId,
) -> anyhow::Result<bool> {
    loop {
        let account = store.load_account(customer).await?;
        let Some(change) = account.unlock() else {
            return Ok(false);
        };
        match store.commit(&change).await {
            Ok(()) => return Ok(true),
            Err(StoreError::Conflict) => continue,
            Err(other) => return Err(other.into()),
        }
    }
}
