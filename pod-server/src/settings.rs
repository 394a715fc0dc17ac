//! Typed settings, loaded once: defaults, then the original sample's
//! `secrets.ini` (if given), then the environment and flags. Every error
//! names the setting that is wrong.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use pod_adapters_http::verify::MAX_TIMESTAMP_TOLERANCE;
use pod_domain::ConfirmationPolicy;
use secrecy::SecretString;

/// The flags (and `POD_*` variables) of `pod serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "POD_LISTEN", default_value = "127.0.0.1:7100")]
    pub listen: String,
    /// Path prefix for every route, such as `/pod` (the original used `/wt`).
    #[arg(long, env = "POD_BASE_PATH", default_value = "")]
    pub base_path: String,
    /// Alexa request verification: strict, dev or off (default: dev in the
    /// embedded mode, strict with Auth0).
    #[arg(long, env = "POD_ALEXA_VERIFY")]
    pub alexa_verify: Option<String>,
    /// The Alexa skill id(s) requests must carry, comma separated.
    #[arg(long, env = "POD_SKILL_ID")]
    pub skill_id: Option<String>,
    /// Allowed clock difference for Alexa request timestamps, in seconds (at most 150).
    #[arg(long, env = "POD_ALEXA_TIMESTAMP_TOLERANCE", default_value_t = 150)]
    pub alexa_timestamp_tolerance: u64,
    /// TLS certificate chain (PEM); with --tls-key, pod serves HTTPS.
    #[arg(long, env = "POD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "POD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Serve /metrics on this other address instead of the main one.
    #[arg(long, env = "POD_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Send email codes over SMTP too (`smtp://user:pass@host:587`).
    #[arg(long, env = "POD_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The From address of code emails.
    #[arg(
        long,
        env = "POD_SMTP_FROM",
        default_value = "Pizza on Demand <pod@localhost>"
    )]
    pub smtp_from: String,
    /// The original sample's secrets.ini (KEY=value lines) with the Auth0 settings.
    #[arg(long, env = "POD_SECRETS")]
    pub secrets: Option<PathBuf>,
    /// How long a one-time code is valid, e.g. 5m.
    #[arg(long, env = "POD_CODE_LIFETIME", default_value = "5m")]
    pub code_lifetime: String,
    /// Wrong codes an order takes before it is cancelled.
    #[arg(long, env = "POD_MAX_FAILED_ATTEMPTS", default_value_t = 3)]
    pub max_failed_attempts: u32,
    /// Order codes sent per customer per rolling hour.
    #[arg(long, env = "POD_MAX_CODES_PER_HOUR", default_value_t = 5)]
    pub max_codes_per_hour: u32,
    /// Web sign-in codes sent per customer per rolling hour (a budget of
    /// its own, so the sign-in page cannot spend a person's order codes).
    #[arg(long, env = "POD_MAX_SIGN_IN_CODES_PER_HOUR", default_value_t = 5)]
    pub max_sign_in_codes_per_hour: u32,
    /// Digits in a code (4 to 8).
    #[arg(long, env = "POD_CODE_DIGITS", default_value_t = 4)]
    pub code_digits: u32,
    /// Consecutive wrong codes, on any surface, before the account locks
    /// (at most 100).
    #[arg(long, env = "POD_LOCKOUT_AFTER", default_value_t = 10)]
    pub lockout_after: u32,
    /// How long the account lock lasts before it lifts by itself, e.g. 1h
    /// (the next wrong code locks again; at 100 failures it stays locked).
    #[arg(long, env = "POD_LOCKOUT_COOLDOWN", default_value = "1h")]
    pub lockout_cooldown: String,
    /// The address browsers reach pod at, such as `https://pod.example.com`
    /// (without the base path): the OIDC callback is built from it, and an
    /// `https` URL makes the session cookie `Secure`.
    #[arg(long, env = "POD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Mark the session cookie `Secure` (pod sits behind an HTTPS proxy).
    #[arg(long, env = "POD_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// The privacy policy page's text: an `.html` file, or plain text or
    /// simple Markdown.
    #[arg(long, env = "POD_PRIVACY_POLICY_FILE")]
    pub privacy_policy_file: Option<PathBuf>,
}

/// Where pod keeps its data; shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// The data folder: SQLite database, keys, outbox.
    #[arg(
        long,
        env = "POD_DATA_DIR",
        default_value = "./pod-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Database URL (default: the SQLite file in the data folder).
    #[arg(long, env = "POD_DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// The audience of locally issued access tokens.
    #[arg(long, env = "POD_API_AUDIENCE", default_value = "pod", global = true)]
    pub api_audience: String,
}

/// How Alexa requests are verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifySetting {
    /// Amazon's chain from the network, public roots.
    Strict,
    /// pod's development CA in the data folder.
    Dev,
    /// Signature checks skipped (timestamp and skill id still checked).
    Off,
}

/// The Auth0 settings of the original sample.
#[derive(Debug, Clone)]
pub struct Auth0Settings {
    /// `AUTH0_DOMAIN`, e.g. `example.auth0.com`.
    pub domain: String,
    /// `AUTH0_BASE_URL`: overrides `https://{domain}` (proxies, tests).
    pub base_url: Option<String>,
    /// `API_ID`: the audience of access tokens.
    pub api_id: String,
    /// `API_SIGNING_KEY`: the HS256 secret; when absent, RS256 with JWKS.
    pub api_signing_key: Option<SecretString>,
    /// `APP_CLIENT_ID`.
    pub client_id: String,
    /// `APP_CLIENT_SECRET`.
    pub client_secret: SecretString,
    /// `AUTH0_ID_TOKEN_ALG`: HS256 or RS256 (default: HS256 with the client
    /// secret when `API_SIGNING_KEY` is set, as in the original's tenant,
    /// else RS256).
    pub id_token_alg: Option<String>,
}

/// Which identity provider pod uses.
#[derive(Debug, Clone)]
pub enum IdentitySettings {
    /// Local users, locally signed tokens, codes to the outbox.
    Embedded,
    /// Auth0.
    Auth0(Box<Auth0Settings>),
}

/// Every setting of `pod serve`, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Path prefix ("" or "/something").
    pub base_path: String,
    /// Data folder.
    pub data_dir: PathBuf,
    /// Database URL.
    pub database_url: Option<String>,
    /// Audience of local tokens.
    pub api_audience: String,
    /// Alexa verification.
    pub verify: VerifySetting,
    /// Accepted skill ids (empty: not checked, only allowed outside strict mode).
    pub skill_ids: Vec<String>,
    /// Timestamp tolerance.
    pub timestamp_tolerance: Duration,
    /// TLS certificate and key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Separate metrics address.
    pub metrics_listen: Option<SocketAddr>,
    /// SMTP URL and From address.
    pub smtp: Option<(SecretString, String)>,
    /// The code policy.
    pub policy: ConfirmationPolicy,
    /// Identity provider.
    pub identity: IdentitySettings,
    /// Where browsers reach pod (no trailing slash, no base path).
    pub public_url: String,
    /// Whether the session cookie is `Secure`.
    pub secure_cookies: bool,
    /// The operator's privacy policy file.
    pub privacy_policy_file: Option<PathBuf>,
}

/// Reads `KEY=value` lines in the original `secrets.ini` format: blank lines
/// and lines starting with `#` or `;` are skipped, `[sections]` ignored,
/// values may be quoted.
pub fn read_secrets_ini(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--secrets: cannot read {}", path.display()))?;
    parse_secrets_ini(&text).with_context(|| format!("--secrets: {}", path.display()))
}

/// Parses the text of a `secrets.ini`.
pub fn parse_secrets_ini(text: &str) -> anyhow::Result<HashMap<String, String>> {
    let mut values = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with(';')
            || line.starts_with('[')
        {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            bail!("line {} is not KEY=value", number + 1);
        };
        let value = value.trim();
        let unquoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        values.insert(key.trim().to_owned(), unquoted.to_owned());
    }
    Ok(values)
}

/// Looks a key up in the environment first, then in the secrets file.
struct Lookup<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    file: HashMap<String, String>,
}

impl Lookup<'_> {
    fn get(&self, key: &str) -> Option<String> {
        (self.env)(key)
            .or_else(|| self.file.get(key).cloned())
            .filter(|v| !v.trim().is_empty())
    }

    fn require(&self, key: &str) -> anyhow::Result<String> {
        self.get(key)
            .with_context(|| format!("{key} is required when AUTH0_DOMAIN is set"))
    }
}

impl Settings {
    /// Validates flags and environment (`env` reads one variable; the real
    /// environment in the binary, a map in tests).
    pub fn load(
        serve: &ServeArgs,
        data: &DataArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Settings> {
        let file = match &serve.secrets {
            Some(path) => read_secrets_ini(path)?,
            None => HashMap::new(),
        };
        if file.keys().any(|k| k.starts_with("PUSHER_")) {
            tracing::info!(
                "secrets.ini: PUSHER_* settings are ignored; pod has live updates built in"
            );
        }
        let lookup = Lookup { env, file };
        let identity = match lookup.get("AUTH0_DOMAIN") {
            None => IdentitySettings::Embedded,
            Some(domain) => IdentitySettings::Auth0(Box::new(Auth0Settings {
                domain: domain
                    .trim()
                    .trim_start_matches("https://")
                    .trim_end_matches('/')
                    .to_owned(),
                base_url: lookup.get("AUTH0_BASE_URL"),
                api_id: lookup.require("API_ID")?,
                api_signing_key: lookup.get("API_SIGNING_KEY").map(SecretString::from),
                client_id: lookup.require("APP_CLIENT_ID")?,
                client_secret: SecretString::from(lookup.require("APP_CLIENT_SECRET")?),
                id_token_alg: lookup.get("AUTH0_ID_TOKEN_ALG"),
            })),
        };

        let listen = serve.listen.parse().with_context(|| {
            format!(
                "POD_LISTEN: {:?} is not an address like 127.0.0.1:7100",
                serve.listen
            )
        })?;
        let metrics_listen = match &serve.metrics_listen {
            Some(addr) => Some(
                addr.parse()
                    .with_context(|| format!("POD_METRICS_LISTEN: {addr:?} is not an address"))?,
            ),
            None => None,
        };
        let base_path = normalize_base_path(&serve.base_path)?;
        let verify = match serve
            .alexa_verify
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("") => match identity {
                IdentitySettings::Embedded => VerifySetting::Dev,
                IdentitySettings::Auth0(_) => VerifySetting::Strict,
            },
            Some("strict") => VerifySetting::Strict,
            Some("dev") => VerifySetting::Dev,
            Some("off") => VerifySetting::Off,
            Some(other) => bail!("POD_ALEXA_VERIFY: {other:?} is not one of strict, dev, off"),
        };
        let skill_ids: Vec<String> = serve
            .skill_id
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if verify == VerifySetting::Strict && skill_ids.is_empty() {
            bail!(
                "POD_SKILL_ID is required with POD_ALEXA_VERIFY=strict (your skill's id, amzn1.ask.skill.…)"
            );
        }
        let timestamp_tolerance = Duration::from_secs(serve.alexa_timestamp_tolerance);
        if timestamp_tolerance > MAX_TIMESTAMP_TOLERANCE || timestamp_tolerance.is_zero() {
            bail!("POD_ALEXA_TIMESTAMP_TOLERANCE: must be 1 to 150 seconds (Amazon's limit)");
        }
        let tls = match (&serve.tls_cert, &serve.tls_key) {
            (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
            (None, None) => None,
            _ => bail!("POD_TLS_CERT and POD_TLS_KEY must be set together"),
        };
        let code_lifetime = humantime::parse_duration(&serve.code_lifetime).with_context(|| {
            format!(
                "POD_CODE_LIFETIME: {:?} is not a duration like 5m",
                serve.code_lifetime
            )
        })?;
        let lockout_cooldown =
            humantime::parse_duration(&serve.lockout_cooldown).with_context(|| {
                format!(
                    "POD_LOCKOUT_COOLDOWN: {:?} is not a duration such as 30m or 1h",
                    serve.lockout_cooldown
                )
            })?;
        let policy = policy(code_lifetime, lockout_cooldown, serve)?;
        let public_url = match serve.public_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    bail!("POD_PUBLIC_URL: {url:?} is not an http(s) URL");
                }
                url.trim_end_matches('/').to_owned()
            }
            _ => format!(
                "{}://{listen}",
                if tls.is_some() { "https" } else { "http" }
            ),
        };
        let secure_cookies =
            serve.secure_cookies || tls.is_some() || public_url.starts_with("https://");
        let api_audience = data.api_audience.trim().to_owned();
        if api_audience.is_empty() {
            bail!("POD_API_AUDIENCE: must not be empty");
        }
        Ok(Settings {
            listen,
            base_path,
            data_dir: data.data_dir.clone(),
            database_url: data.database_url.clone(),
            api_audience,
            verify,
            skill_ids,
            timestamp_tolerance,
            tls,
            metrics_listen,
            smtp: serve
                .smtp_url
                .clone()
                .map(|url| (SecretString::from(url), serve.smtp_from.clone())),
            policy,
            identity,
            public_url,
            secure_cookies,
            privacy_policy_file: serve.privacy_policy_file.clone(),
        })
    }
}

fn policy(
    code_lifetime: Duration,
    lockout_cooldown: Duration,
    serve: &ServeArgs,
) -> anyhow::Result<ConfirmationPolicy> {
    let named = |setting: &str| format!("POD_{}", setting.to_ascii_uppercase());
    let p = ConfirmationPolicy::default();
    let p = p
        .with_code_lifetime(code_lifetime)
        .map_err(|e| anyhow::anyhow!("{}: {e}", named(e.setting())))?;
    let p = p
        .with_max_failed_attempts(serve.max_failed_attempts)
        .map_err(|e| anyhow::anyhow!("{}: {e}", named(e.setting())))?;
    let p = p
        .with_max_codes_per_hour(serve.max_codes_per_hour)
        .map_err(|e| anyhow::anyhow!("{}: {e}", named(e.setting())))?;
    let p = p
        .with_max_sign_in_codes_per_hour(serve.max_sign_in_codes_per_hour)
        .map_err(|e| anyhow::anyhow!("{}: {e}", named(e.setting())))?;
    let p = p
        .with_lockout_cooldown(lockout_cooldown)
        .map_err(|e| anyhow::anyhow!("{}: {e}", named(e.setting())))?;
    let p = p
        .with_code_digits(serve.code_digits)
        .map_err(|e| anyhow::anyhow!("{}: {e}", named(e.setting())))?;
    p.with_lockout_after(serve.lockout_after)
        .map_err(|e| anyhow::anyhow!("{}: {e}", named(e.setting())))
}

fn normalize_base_path(raw: &str) -> anyhow::Result<String> {
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
    if !valid {
        bail!("POD_BASE_PATH: {raw:?} is not a path like /pod");
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        data: DataArgs,
    }

    fn load(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let cli = Cli::try_parse_from(std::iter::once("pod").chain(args.iter().copied()))?;
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::load(&cli.serve, &cli.data, &|k| env.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_embedded_mode_with_dev_verification() {
        let s = load(&[], &[]).unwrap();
        assert!(matches!(s.identity, IdentitySettings::Embedded));
        assert_eq!(s.verify, VerifySetting::Dev);
        assert_eq!(s.listen.to_string(), "127.0.0.1:7100");
        assert_eq!(s.base_path, "");
        assert_eq!(s.policy, ConfirmationPolicy::default());
        assert_eq!(s.public_url, "http://127.0.0.1:7100");
        assert!(!s.secure_cookies);
    }

    #[test]
    fn an_https_public_url_makes_cookies_secure() {
        let s = load(&["--public-url", "https://pod.example/"], &[]).unwrap();
        assert_eq!(s.public_url, "https://pod.example");
        assert!(s.secure_cookies);
        assert!(load(&["--secure-cookies"], &[]).unwrap().secure_cookies);
    }

    #[test]
    fn bad_settings_name_themselves() {
        let cases: &[(&[&str], &str)] = &[
            (&["--listen", "nowhere"], "POD_LISTEN"),
            (&["--alexa-verify", "maybe"], "POD_ALEXA_VERIFY"),
            (&["--alexa-verify", "strict"], "POD_SKILL_ID"),
            (
                &["--alexa-timestamp-tolerance", "151"],
                "POD_ALEXA_TIMESTAMP_TOLERANCE",
            ),
            (&["--base-path", "/a b"], "POD_BASE_PATH"),
            (&["--tls-cert", "c.pem"], "POD_TLS_CERT"),
            (&["--code-digits", "3"], "POD_CODE_DIGITS"),
            (&["--lockout-after", "101"], "POD_LOCKOUT_AFTER"),
            (&["--code-lifetime", "soon"], "POD_CODE_LIFETIME"),
            (&["--public-url", "pod.example"], "POD_PUBLIC_URL"),
        ];
        for (args, setting) in cases {
            let error = format!("{:#}", load(args, &[]).unwrap_err());
            assert!(error.contains(setting), "{args:?}: {error}");
        }
    }

    #[test]
    fn auth0_mode_needs_its_settings_and_defaults_to_strict() {
        let error = format!(
            "{:#}",
            load(
                &["--skill-id", "amzn1.ask.skill.x"],
                &[("AUTH0_DOMAIN", "t.auth0.com")]
            )
            .unwrap_err()
        );
        assert!(error.contains("API_ID"), "{error}");
        let env = [
            ("AUTH0_DOMAIN", "https://t.auth0.com/"),
            ("API_ID", "https://pizza"),
            ("APP_CLIENT_ID", "cid"),
            ("APP_CLIENT_SECRET", "shh"),
        ];
        let error = format!("{:#}", load(&[], &env).unwrap_err());
        assert!(error.contains("POD_SKILL_ID"), "{error}");
        let s = load(&["--skill-id", "a, b"], &env).unwrap();
        assert_eq!(s.verify, VerifySetting::Strict);
        assert_eq!(s.skill_ids, ["a", "b"]);
        let IdentitySettings::Auth0(auth0) = s.identity else {
            panic!("not auth0")
        };
        assert_eq!(auth0.domain, "t.auth0.com");
        assert!(
            !format!("{auth0:?}").contains("shh"),
            "secrets stay out of debug output"
        );
    }

    #[test]
    fn the_original_secrets_ini_is_read_and_the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.ini");
        std::fs::write(
            &path,
            "# the original's file\nAUTH0_DOMAIN=file.auth0.com\nAPI_ID=https://pizza\nAPI_SIGNING_KEY=\"signing\"\n\
             APP_CLIENT_ID=cid\nAPP_CLIENT_SECRET=secret\nPUSHER_APP_ID=1\nPUSHER_KEY=k\n",
        )
        .unwrap();
        let path = path.to_str().unwrap();
        let s = load(
            &["--secrets", path, "--skill-id", "s"],
            &[("APP_CLIENT_ID", "from-env")],
        )
        .unwrap();
        let IdentitySettings::Auth0(auth0) = s.identity else {
            panic!("not auth0")
        };
        assert_eq!(auth0.domain, "file.auth0.com");
        assert_eq!(auth0.client_id, "from-env");
        assert!(auth0.api_signing_key.is_some());
        assert!(parse_secrets_ini("no equals sign").is_err());
    }
}
