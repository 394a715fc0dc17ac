//! The `pod` command line.
//!
//! Every flag is parsed by clap into its type; a value that came from a
//! `POD_*` variable is reported under the variable's name. Plain `pod` is
//! `pod serve`. Logs go to stderr: `pod serve` logs at `info`, the other
//! commands only warnings unless `-v` (or `RUST_LOG`) asks for more.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, Subcommand};
use pod_adapters_local::{LocalUsers, Outbox, SystemClock};
use pod_ports::{AccountStore, Clock, StoreError};
use tracing_subscriber::EnvFilter;

use crate::app::{
    Application, local_access_tokens, local_token_key, open_existing_store, open_store,
    require_data_dir, shutdown_signal,
};
use crate::settings::{
    AUTH0_HELP, DataArgs, DataDirArgs, FlagsGiven, ServeArgs, Settings, StoreArgs, parse_duration,
};
use crate::simulate::{self, SimulateArgs};

/// What `pod --help` opens with: what pod is, and how to try it.
const ABOUT: &str = "\
pod runs an Alexa skill that asks for a one-time code before it completes an order: \
the person ordering gets a code on their phone or by email, and the order goes through \
only when they say the code back to Alexa.

Try it (plain `pod` is `pod serve`):
  pod serve                                          start the server at http://127.0.0.1:7100
  pod simulate --user demo \"get me a large pizza\"    then, in another terminal, order as Alexa would
  pod outbox --last 1                                see the code pod sent
  pod simulate --user demo \"authorize 1234\"          confirm with that code";

/// The `pod` command line.
#[derive(Debug, Parser)]
#[command(
    name = "pod",
    version,
    about = ABOUT,
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    /// Say more: -v for what pod does, -vv for debugging (RUST_LOG, when set, wins).
    #[arg(short, long, action = ArgAction::Count, global = true, display_order = 100)]
    verbose: u8,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (what plain `pod` does); creates the data folder on first start.
    #[command(after_help = AUTH0_HELP)]
    Serve(Box<ServeCommand>),
    /// Manage the embedded mode's local users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage the OAuth clients (Alexa skills) that link accounts against the embedded mode.
    #[command(subcommand)]
    Clients(crate::clients::ClientsCommand),
    /// Print an access token for a local user: what account linking would give Alexa.
    Token {
        /// The user name.
        name: String,
        /// How long the token is valid, such as 1h or 30d.
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        ttl: Duration,
        #[command(flatten)]
        data: DataArgs,
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
        #[command(flatten)]
        data: DataDirArgs,
    },
    /// Send one utterance to the skill as Alexa would, signed, and print the answer.
    Simulate {
        #[command(flatten)]
        args: SimulateArgs,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Hold a conversation with the skill, keeping the session (like `ask dialog`).
    Dialog {
        #[command(flatten)]
        args: simulate::DialogArgs,
        #[command(flatten)]
        data: DataArgs,
    },
}

/// `pod serve`: the server's settings and where it keeps its data.
#[derive(Debug, clap::Args)]
struct ServeCommand {
    #[command(flatten)]
    serve: ServeArgs,
    #[command(flatten, next_help_heading = "Data")]
    data: DataArgs,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Add a user (creates the data folder if there is none yet).
    Add {
        /// User name ([a-z0-9_.-], up to 32).
        name: String,
        /// Email address.
        #[arg(long)]
        email: String,
        /// Phone number (E.164, e.g. +15550100); codes go there by SMS.
        #[arg(long)]
        phone: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List users.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Lift a user's voice-ordering lock after too many wrong codes.
    Unlock {
        /// User name.
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

impl Cli {
    /// Parses the process's arguments, or prints clap's message and exits
    /// (status 2 for a bad command line, 0 for `--help` and `--version`).
    pub fn parse_args() -> Cli {
        Self::try_parse_args(std::env::args_os()).unwrap_or_else(|error| error.exit())
    }

    /// Parses `args` (the program name first). Plain `pod [-v]` is
    /// `pod serve`. A bad value is reported under the name it was given
    /// by: the flag, or the `POD_*` variable when it came from the
    /// environment.
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let mut matches = Self::matches(&args)?;
        if matches.subcommand().is_none() {
            args.push("serve".into());
            matches = Self::matches(&args)?;
        }
        let mut cli = Cli::from_arg_matches(&matches)?;
        if let (Some(Command::Serve(command)), Some(("serve", serve))) =
            (&mut cli.command, matches.subcommand())
        {
            command.serve.sources = FlagsGiven::from_matches(serve);
        }
        Ok(cli)
    }

    fn matches(args: &[OsString]) -> Result<clap::ArgMatches, clap::Error> {
        let command = Cli::command();
        command
            .clone()
            .try_get_matches_from(args)
            .map_err(|error| name_the_variable(error, &command, args))
    }

    /// The filter logs start with when `RUST_LOG` is not set: `pod serve`
    /// logs what it does (`info`), the other commands print their results
    /// for people and log only warnings; each `-v` raises the level.
    pub fn default_log_filter(&self) -> &'static str {
        let serving = matches!(self.command, None | Some(Command::Serve(_)));
        let level = usize::from(self.verbose) + if serving { 1 } else { 0 };
        ["warn", "info", "debug", "trace"][level.min(3)]
    }

    /// The settings of `pod serve`, when that is the command.
    pub fn serve_args(&self) -> Option<(&ServeArgs, &DataArgs)> {
        match &self.command {
            Some(Command::Serve(command)) => Some((&command.serve, &command.data)),
            _ => None,
        }
    }
}

/// clap names the flag of a bad value even when the value came from the
/// flag's variable; the person set the variable, so name that instead.
fn name_the_variable(
    error: clap::Error,
    command: &clap::Command,
    args: &[OsString],
) -> clap::Error {
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return error;
    }
    // "--code-lifetime <CODE_LIFETIME>"
    let Some(ContextValue::String(shown)) = error.get(ContextKind::InvalidArg) else {
        return error;
    };
    let Some(long) = shown
        .split_whitespace()
        .next()
        .and_then(|flag| flag.strip_prefix("--"))
    else {
        return error;
    };
    let flag = format!("--{long}");
    let on_command_line = args.iter().skip(1).any(|arg| {
        let arg = arg.to_string_lossy();
        arg == flag || arg.starts_with(&format!("{flag}="))
    });
    let variable = find_arg(command, long).and_then(|arg| arg.get_env().map(ToOwned::to_owned));
    let Some(variable) = variable.filter(|_| !on_command_line) else {
        return error;
    };
    let variable = variable.to_string_lossy();
    let value = match error.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) => value.clone(),
        _ => std::env::var(variable.as_ref()).unwrap_or_default(),
    };
    let reason = match error.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(valid)) => format!("expected one of {}", valid.join(", ")),
        _ => std::error::Error::source(&error)
            .map_or_else(|| "not a valid value".to_owned(), ToString::to_string),
    };
    clap::Error::raw(
        error.kind(),
        format!("invalid value '{value}' for {variable}: {reason}\n"),
    )
    .with_cmd(command)
}

fn find_arg<'a>(command: &'a clap::Command, long: &str) -> Option<&'a clap::Arg> {
    command
        .get_arguments()
        .find(|arg| arg.get_long() == Some(long))
        .or_else(|| {
            command
                .get_subcommands()
                .find_map(|sub| find_arg(sub, long))
        })
}

/// Logs to stderr: `RUST_LOG` when set, else [`Cli::default_log_filter`].
pub fn install_telemetry(cli: &Cli) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(cli.default_log_filter()));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let Some(command) = cli.command else {
        bail!("no command given; see pod --help")
    };
    match command {
        Command::Serve(command) => serve_command(&command.serve, &command.data).await,
        Command::Users(command) => users_command(command).await,
        Command::Clients(command) => crate::clients::clients_command(command).await,
        Command::Token { name, ttl, data } => token_command(&name, ttl, &data).await,
        Command::Outbox {
            user,
            last,
            json,
            data,
        } => outbox_command(user.as_deref(), last, json, &data.data_dir),
        Command::Simulate { args, data } => {
            // The simulator signs with the server's development CA, which
            // lives in the server's data folder: a new folder would hold a
            // CA the server does not trust.
            require_data_dir(&data.data_dir)?;
            simulate::simulate_command(args, &data).await
        }
        Command::Dialog { args, data } => {
            require_data_dir(&data.data_dir)?;
            simulate::dialog_command(args, &data).await
        }
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

async fn users_command(command: UsersCommand) -> anyhow::Result<()> {
    let store = match &command {
        // Adding the first user may start a new data folder.
        UsersCommand::Add { store, .. } => {
            open_store(&store.data_dir, store.database_url.as_deref()).await?
        }
        UsersCommand::List { store } | UsersCommand::Unlock { store, .. } => {
            open_existing_store(&store.data_dir, store.database_url.as_deref()).await?
        }
    };
    let store = Arc::new(store);
    let users = LocalUsers::new(store.clone(), Arc::new(SystemClock));
    let mut out = std::io::stdout().lock();
    match command {
        UsersCommand::Add {
            name, email, phone, ..
        } => {
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
        UsersCommand::List { .. } => {
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
        UsersCommand::Unlock { name, .. } => {
            let Some(user) = users.find(&name).await? else {
                bail!("no user {name}; `pod users list` shows who there is")
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
/// Needs an existing data folder (the token signing key is there) and
/// creates none.
pub async fn issue_token(data: &DataArgs, name: &str, ttl: Duration) -> anyhow::Result<String> {
    require_data_dir(&data.data_dir)?;
    let store = Arc::new(open_existing_store(&data.data_dir, data.database_url.as_deref()).await?);
    let users = LocalUsers::new(store, Arc::new(SystemClock));
    let Some(user) = users.find(name).await? else {
        bail!("no user {name}; add one with `pod users add {name} --email ...`")
    };
    let clock = Arc::new(SystemClock);
    let key = local_token_key(&data.data_dir)?;
    let tokens = local_access_tokens(&key, &data.api_audience, clock.clone());
    Ok(tokens.issue(&user.id, ttl, clock.now()))
}

async fn token_command(name: &str, ttl: Duration, data: &DataArgs) -> anyhow::Result<()> {
    let token = issue_token(data, name, ttl).await?;
    writeln!(std::io::stdout(), "{token}")?;
    Ok(())
}

fn outbox_command(
    user: Option<&str>,
    last: Option<usize>,
    json: bool,
    data_dir: &Path,
) -> anyhow::Result<()> {
    require_data_dir(data_dir)?;
    let outbox = Outbox::in_data_dir(data_dir);
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
