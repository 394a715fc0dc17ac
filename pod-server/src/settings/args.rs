//! The command-line flags (each with its `POD_*` variable) that settings
//! are loaded from. clap parses every value into its type, so a malformed
//! value is reported by clap, naming the flag or variable it came from.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args};

use super::VerifySetting;

/// The flags (and `POD_*` variables) of `pod serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "POD_LISTEN", default_value = "127.0.0.1:7100")]
    pub listen: SocketAddr,
    /// Path prefix for every route, such as `/pod` (the original used `/wt`).
    #[arg(long, env = "POD_BASE_PATH", default_value = "", value_parser = parse_base_path)]
    pub base_path: String,
    /// Serve /metrics on this other address instead of the main one.
    #[arg(long, env = "POD_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Most client connections served at once; more are closed at once.
    #[arg(long, env = "POD_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// TLS certificate chain (PEM); with --tls-key, pod serves HTTPS.
    #[arg(long, env = "POD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "POD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// Alexa request verification [default: dev in the embedded mode,
    /// strict with Auth0].
    #[arg(
        long,
        env = "POD_ALEXA_VERIFY",
        value_enum,
        ignore_case = true,
        help_heading = "Alexa"
    )]
    pub alexa_verify: Option<VerifySetting>,
    /// The Alexa skill id(s) requests must carry, comma separated (required
    /// with strict verification).
    #[arg(long, env = "POD_SKILL_ID", help_heading = "Alexa")]
    pub skill_id: Option<String>,
    /// Allowed clock difference for Alexa request timestamps, in seconds (1 to 150).
    #[arg(
        long,
        env = "POD_ALEXA_TIMESTAMP_TOLERANCE",
        default_value_t = 150,
        help_heading = "Alexa"
    )]
    pub alexa_timestamp_tolerance: u64,
    /// Say "One moment while I send your code." through Alexa's progressive
    /// response API when an order has not been answered after this long, or
    /// `off`.
    #[arg(long, env = "POD_PROGRESSIVE_AFTER", default_value = "300ms", value_parser = parse_optional_duration, help_heading = "Alexa")]
    pub progressive_after: Threshold,
    /// How long a progressive response may take before it is given up (it
    /// never delays the answer).
    #[arg(long, env = "POD_PROGRESSIVE_TIMEOUT", default_value = "1s", value_parser = parse_duration, help_heading = "Alexa")]
    pub progressive_timeout: Duration,
    /// For tests: one more Alexa API endpoint (an origin such as
    /// http://127.0.0.1:9000) that progressive responses may go to besides
    /// Amazon's API hosts.
    #[arg(long, env = "POD_ALEXA_API_TEST_ENDPOINT", hide = true)]
    pub alexa_api_test_endpoint: Option<String>,

    /// How long a one-time code is valid (30s to 1h).
    #[arg(long, env = "POD_CODE_LIFETIME", default_value = "5m", value_parser = parse_duration, help_heading = "One-time codes")]
    pub code_lifetime: Duration,
    /// Digits in a code (4 to 8; Alexa's AMAZON.FOUR_DIGIT_NUMBER hears 4).
    #[arg(
        long,
        env = "POD_CODE_DIGITS",
        default_value_t = 4,
        help_heading = "One-time codes"
    )]
    pub code_digits: u32,
    /// Wrong codes an order takes before it is cancelled (1 to 10).
    #[arg(
        long,
        env = "POD_MAX_FAILED_ATTEMPTS",
        default_value_t = 3,
        help_heading = "One-time codes"
    )]
    pub max_failed_attempts: u32,
    /// Order codes sent per customer per rolling hour (1 to 100).
    #[arg(
        long,
        env = "POD_MAX_CODES_PER_HOUR",
        default_value_t = 5,
        help_heading = "One-time codes"
    )]
    pub max_codes_per_hour: u32,
    /// Web sign-in codes sent per customer per rolling hour (1 to 100; a
    /// budget of its own, so the sign-in page cannot spend a person's order
    /// codes).
    #[arg(
        long,
        env = "POD_MAX_SIGN_IN_CODES_PER_HOUR",
        default_value_t = 5,
        help_heading = "One-time codes"
    )]
    pub max_sign_in_codes_per_hour: u32,
    /// Consecutive wrong codes, on any surface, before the account locks
    /// (1 to 100).
    #[arg(
        long,
        env = "POD_LOCKOUT_AFTER",
        default_value_t = 10,
        help_heading = "One-time codes"
    )]
    pub lockout_after: u32,
    /// How long the account lock lasts before it lifts by itself (1m to
    /// 30d; the next wrong code locks again, and at 100 failures it stays
    /// locked).
    #[arg(long, env = "POD_LOCKOUT_COOLDOWN", default_value = "1h", value_parser = parse_duration, help_heading = "One-time codes")]
    pub lockout_cooldown: Duration,
    /// Send email codes over SMTP (`smtp://user:pass@host:587`) instead of to the outbox.
    #[arg(
        long,
        env = "POD_SMTP_URL",
        hide_env_values = true,
        help_heading = "One-time codes"
    )]
    pub smtp_url: Option<String>,
    /// The From address of code emails.
    #[arg(
        long,
        env = "POD_SMTP_FROM",
        default_value = "Pizza on Demand <pod@localhost>",
        help_heading = "One-time codes"
    )]
    pub smtp_from: String,

    /// Send SMS codes through Twilio's Messaging API for this account
    /// (`AC…`), instead of to the outbox; needs an auth token or API key,
    /// and a sender.
    #[arg(long, env = "POD_TWILIO_ACCOUNT_SID", help_heading = "Code delivery")]
    pub twilio_account_sid: Option<String>,
    /// The Twilio account's auth token (or an API key below).
    #[arg(
        long,
        env = "POD_TWILIO_AUTH_TOKEN",
        hide_env_values = true,
        help_heading = "Code delivery"
    )]
    pub twilio_auth_token: Option<String>,
    /// A Twilio API key's SID (`SK…`), instead of the auth token.
    #[arg(long, env = "POD_TWILIO_API_KEY_SID", help_heading = "Code delivery")]
    pub twilio_api_key_sid: Option<String>,
    /// The Twilio API key's secret.
    #[arg(
        long,
        env = "POD_TWILIO_API_KEY_SECRET",
        hide_env_values = true,
        help_heading = "Code delivery"
    )]
    pub twilio_api_key_secret: Option<String>,
    /// The sender of SMS codes: a Twilio number (`+15550100`) or an
    /// alphanumeric sender id.
    #[arg(long, env = "POD_TWILIO_FROM", help_heading = "Code delivery")]
    pub twilio_from: Option<String>,
    /// A Twilio Messaging Service (`MG…`) that picks the sender, instead of
    /// a From.
    #[arg(
        long,
        env = "POD_TWILIO_MESSAGING_SERVICE_SID",
        help_heading = "Code delivery"
    )]
    pub twilio_messaging_service_sid: Option<String>,
    /// Twilio's API address (a proxy; a fake in tests; plain http only on loopback).
    #[arg(
        long,
        env = "POD_TWILIO_BASE_URL",
        default_value = "https://api.twilio.com",
        help_heading = "Code delivery"
    )]
    pub twilio_base_url: String,
    /// Hand codes to your own service: a signed JSON POST to this https
    /// URL (see docs/DEPLOYMENT.md).
    #[arg(
        long,
        env = "POD_WEBHOOK_URL",
        hide_env_values = true,
        help_heading = "Code delivery"
    )]
    pub webhook_url: Option<String>,
    /// The webhook's signing secret (16 bytes or more), shared with the receiver.
    #[arg(
        long,
        env = "POD_WEBHOOK_SECRET",
        hide_env_values = true,
        help_heading = "Code delivery"
    )]
    pub webhook_secret: Option<String>,
    /// The channels the webhook takes, `sms`, `email` or `sms,email`
    /// [default: those no other delivery takes].
    #[arg(long, env = "POD_WEBHOOK_CHANNELS", help_heading = "Code delivery")]
    pub webhook_channels: Option<String>,
    /// The most a code's delivery through Twilio or the webhook may take,
    /// retries included (1s to 6s; Alexa waits 8 seconds for the answer).
    #[arg(long, env = "POD_DELIVERY_TIMEOUT", default_value = "4s", value_parser = parse_duration, help_heading = "Code delivery")]
    pub delivery_timeout: Duration,

    /// The address browsers reach pod at, such as `https://pod.example.com`
    /// (without the base path): the OIDC callback is built from it, and an
    /// `https` URL makes the session cookie `Secure` [default: the listen
    /// address].
    #[arg(long, env = "POD_PUBLIC_URL", value_parser = parse_public_url, help_heading = "Web app")]
    pub public_url: Option<String>,
    /// Mark the session cookie `Secure` (pod sits behind an HTTPS proxy).
    #[arg(long, env = "POD_SECURE_COOKIES", help_heading = "Web app")]
    pub secure_cookies: bool,
    /// Take the client address from the last entry of `X-Forwarded-For`
    /// (pod sits behind a proxy that sets it, such as deploy/nginx/pod.conf);
    /// otherwise the connection's address is used.
    #[arg(long, env = "POD_TRUST_FORWARDED_FOR", help_heading = "Web app")]
    pub trust_forwarded_for: bool,
    /// The privacy policy page's text: an `.html` file, or plain text or
    /// simple Markdown [default: a built-in text].
    #[arg(long, env = "POD_PRIVACY_POLICY_FILE", help_heading = "Web app")]
    pub privacy_policy_file: Option<PathBuf>,

    /// How long an access token issued to a linked skill (Alexa) works
    /// (1m to 1d); its refresh token gets a new one. Unlinking ends it at once.
    #[arg(long, env = "POD_OAUTH_ACCESS_TOKEN_TTL", default_value = "1h", value_parser = parse_duration, help_heading = "Account linking")]
    pub oauth_access_token_ttl: Duration,

    /// The original sample's secrets.ini (KEY=value lines) with the Auth0
    /// settings listed below.
    #[arg(long, env = "POD_SECRETS", help_heading = "Auth0")]
    pub secrets: Option<PathBuf>,

    /// Which of these settings were given as flags (the others came from
    /// the environment or are defaults): messages name what the person
    /// typed.
    #[arg(skip)]
    pub sources: FlagsGiven,
}

/// The Auth0 settings, shown after the flags in `pod serve --help`.
pub const AUTH0_HELP: &str = "\
Auth0 mode (instead of the embedded local users and outbox), from the environment
or from the original sample's secrets.ini given with --secrets (the environment wins):
  AUTH0_DOMAIN        your tenant, such as example.auth0.com; setting it selects Auth0 mode
  API_ID              the API identifier: the audience of access tokens
  API_SIGNING_KEY     the API's HS256 signing secret; when unset, RS256 tokens checked
                      against the tenant's JWKS
  APP_CLIENT_ID       the application's client id
  APP_CLIENT_SECRET   the application's client secret
  AUTH0_BASE_URL      overrides https://AUTH0_DOMAIN (a proxy, a test tenant)
  AUTH0_ID_TOKEN_ALG  HS256 or RS256 for ID tokens (default: HS256 with the client secret
                      when API_SIGNING_KEY is set, else RS256)
See docs/AUTH0-AND-ALEXA-SETUP.md.";

/// Where pod keeps its data, and the audience of the tokens it issues
/// (`pod serve`, `pod token`, `pod simulate`, `pod dialog`).
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// The data folder: SQLite database, keys, outbox.
    #[arg(long, env = "POD_DATA_DIR", default_value = "./pod-data")]
    pub data_dir: PathBuf,
    /// Database URL, `sqlite:…` [default: the SQLite file in the data folder].
    #[arg(long, env = "POD_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The audience of locally issued access tokens.
    #[arg(long, env = "POD_API_AUDIENCE", default_value = "pod", value_parser = parse_audience)]
    pub api_audience: String,
}

/// The data folder and database of `pod users`.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The data folder: SQLite database, keys, outbox.
    #[arg(long, env = "POD_DATA_DIR", default_value = "./pod-data")]
    pub data_dir: PathBuf,
    /// Database URL, `sqlite:…` [default: the SQLite file in the data folder].
    #[arg(long, env = "POD_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// The data folder alone (`pod outbox`).
#[derive(Debug, Clone, clap::Args)]
pub struct DataDirArgs {
    /// The data folder: SQLite database, keys, outbox.
    #[arg(long, env = "POD_DATA_DIR", default_value = "./pod-data")]
    pub data_dir: PathBuf,
}

/// The settings given as flags on the command line (by clap id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagsGiven(BTreeSet<String>);

impl FlagsGiven {
    /// The ids of `matches` whose value came from the command line.
    pub fn from_matches(matches: &ArgMatches) -> FlagsGiven {
        FlagsGiven(
            matches
                .ids()
                .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::CommandLine))
                .map(|id| id.as_str().to_owned())
                .collect(),
        )
    }

    /// The setting `id` (a field of [`ServeArgs`] or [`DataArgs`]) as the
    /// person gave it: `--code-digits` when it was a flag, else its
    /// variable `POD_CODE_DIGITS`.
    pub fn name(&self, id: &str) -> String {
        let (flag, variable) = names_of(id);
        if self.0.contains(id) { flag } else { variable }
    }

    /// The setting `id` with its value, as given: `--code-digits 9` or
    /// `POD_CODE_DIGITS=9`.
    pub fn name_with_value(&self, id: &str, value: impl std::fmt::Display) -> String {
        let (flag, variable) = names_of(id);
        if self.0.contains(id) {
            format!("{flag} {value}")
        } else {
            format!("{variable}={value}")
        }
    }

    /// A setting that was not given at all: both of its names.
    pub fn both_names(id: &str) -> String {
        let (flag, variable) = names_of(id);
        format!("{flag} (or {variable})")
    }
}

/// `--flag` and `VARIABLE` of a setting of `pod serve`.
fn names_of(id: &str) -> (String, String) {
    let cmd = DataArgs::augment_args(ServeArgs::augment_args(clap::Command::new("pod")));
    let arg = cmd.get_arguments().find(|arg| arg.get_id() == id);
    let flag = arg.and_then(|arg| arg.get_long()).map_or_else(
        || format!("--{}", id.replace('_', "-")),
        |l| format!("--{l}"),
    );
    let variable = arg.and_then(|arg| arg.get_env()).map_or_else(
        || format!("POD_{}", id.to_ascii_uppercase()),
        |v| v.to_string_lossy().into_owned(),
    );
    (flag, variable)
}

/// `5m`, `1h`, `30s`, `2days`.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    humantime::parse_duration(raw.trim())
        .map_err(|_| "expected a duration such as 30s, 5m or 1h".to_owned())
}

/// A duration after which something happens, or never (`off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold(pub Option<Duration>);

/// A duration, or `off` (also `never`) for none.
fn parse_optional_duration(raw: &str) -> Result<Threshold, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "off" | "never" => Ok(Threshold(None)),
        _ => parse_duration(raw)
            .map(|d| Threshold(Some(d)))
            .map_err(|_| "expected a duration such as 300ms or 1s, or off".to_owned()),
    }
}

fn parse_base_path(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim().trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let path = if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    };
    let valid = path[1..].split('/').all(|seg| {
        !seg.is_empty()
            && seg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c))
    });
    if valid {
        Ok(path)
    } else {
        Err("expected a path such as /pod (letters, digits, - _ . ~ between slashes)".to_owned())
    }
}

/// An http(s) URL without its trailing slash; empty means not set.
fn parse_public_url(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    if url.is_empty() || url.starts_with("https://") || url.starts_with("http://") {
        Ok(url.trim_end_matches('/').to_owned())
    } else {
        Err("expected an http(s) URL such as https://pod.example.com".to_owned())
    }
}

fn parse_audience(raw: &str) -> Result<String, String> {
    let audience = raw.trim();
    if audience.is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(audience.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_named_as_given() {
        let mut given = FlagsGiven::default();
        assert_eq!(given.name("code_digits"), "POD_CODE_DIGITS");
        given.0.insert("code_digits".to_owned());
        assert_eq!(given.name("code_digits"), "--code-digits");
        assert_eq!(given.name_with_value("code_digits", 9), "--code-digits 9");
        assert_eq!(
            given.name_with_value("lockout_after", 0),
            "POD_LOCKOUT_AFTER=0"
        );
        assert_eq!(given.name("api_audience"), "POD_API_AUDIENCE");
        assert_eq!(
            FlagsGiven::both_names("skill_id"),
            "--skill-id (or POD_SKILL_ID)"
        );
    }

    #[test]
    fn values_parse_or_explain() {
        assert_eq!(parse_base_path("pod/").unwrap(), "/pod");
        assert_eq!(parse_base_path(" ").unwrap(), "");
        assert!(parse_base_path("/a b").is_err());
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("soon").unwrap_err().contains("5m"));
        assert_eq!(
            parse_public_url("https://p.example/").unwrap(),
            "https://p.example"
        );
        assert!(parse_public_url("p.example").is_err());
        assert!(parse_audience(" ").is_err());
    }
}
