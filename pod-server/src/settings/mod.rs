//! Typed settings, loaded once: defaults, then the original sample's
//! `secrets.ini` (if given), then the environment and flags. Every error
//! names the setting that is wrong, as the person gave it: the flag
//! (`--code-digits`) or the variable (`POD_CODE_DIGITS`).
//!
//! - `args`: the clap flags, each with its `POD_*` variable;
//! - `secrets_ini`: the original sample's `secrets.ini`;
//! - `deliveries`: the real code deliveries (Twilio, the webhook);
//! - here: [`Settings::load`], which checks what clap cannot (ranges of the
//!   code policy, settings that go together, the Auth0 settings).

mod args;
mod deliveries;
mod secrets_ini;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use pod_alexa::verify::MAX_TIMESTAMP_TOLERANCE;
use pod_domain::{ConfirmationPolicy, PolicyError};
use secrecy::SecretString;

pub use args::{
    AUTH0_HELP, DataArgs, DataDirArgs, FlagsGiven, ServeArgs, StoreArgs, parse_duration,
};
pub use deliveries::DeliverySettings;
pub use secrets_ini::{parse_secrets_ini, read_secrets_ini};

/// How Alexa requests are verified (`--alexa-verify`, `POD_ALEXA_VERIFY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VerifySetting {
    /// Amazon's chain from the network, public roots.
    Strict,
    /// pod's development CA in the data folder.
    Dev,
    /// No signature checks (timestamp and skill id still checked); never in production.
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
    /// When a slow order gets a progressive response (`None`: never), and
    /// how long one may take.
    pub progressive_after: Option<Duration>,
    /// How long one progressive response may take.
    pub progressive_timeout: Duration,
    /// For tests: one more Alexa API endpoint progressive responses may go to.
    pub alexa_api_test_endpoint: Option<String>,
    /// Timestamp tolerance.
    pub timestamp_tolerance: Duration,
    /// TLS certificate and key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Separate metrics address.
    pub metrics_listen: Option<SocketAddr>,
    /// Most client connections served at once.
    pub max_connections: u32,
    /// SMTP URL and From address.
    pub smtp: Option<(SecretString, String)>,
    /// Twilio and the webhook, when configured.
    pub deliveries: DeliverySettings,
    /// The code policy.
    pub policy: ConfirmationPolicy,
    /// Identity provider.
    pub identity: IdentitySettings,
    /// Where browsers reach pod (no trailing slash, no base path).
    pub public_url: String,
    /// Whether the session cookie is `Secure`.
    pub secure_cookies: bool,
    /// Whether the client address comes from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// The operator's privacy policy file.
    pub privacy_policy_file: Option<PathBuf>,
    /// How long access tokens issued to linked skills work.
    pub oauth_access_token_ttl: Duration,
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
    /// Validates flags and environment (`env` reads one variable for the
    /// Auth0 settings; the real environment in the binary, a map in tests).
    /// clap has already parsed every flag and `POD_*` variable into its
    /// type; this checks what goes beyond one value.
    pub fn load(
        serve: &ServeArgs,
        data: &DataArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Settings> {
        let given = &serve.sources;
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

        let verify = match (serve.alexa_verify, &identity) {
            (Some(verify), _) => verify,
            (None, IdentitySettings::Embedded) => VerifySetting::Dev,
            (None, IdentitySettings::Auth0(_)) => VerifySetting::Strict,
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
            let why = if serve.alexa_verify.is_some() {
                format!("with {}", given.name_with_value("alexa_verify", "strict"))
            } else {
                "in Auth0 mode, which verifies Alexa requests strictly".to_owned()
            };
            bail!(
                "{} is required {why}: your skill's id, amzn1.ask.skill.…",
                FlagsGiven::both_names("skill_id")
            );
        }
        let timestamp_tolerance = Duration::from_secs(serve.alexa_timestamp_tolerance);
        if timestamp_tolerance > MAX_TIMESTAMP_TOLERANCE || timestamp_tolerance.is_zero() {
            bail!(
                "{}: must be 1 to {} seconds (Amazon's limit)",
                given.name_with_value("alexa_timestamp_tolerance", serve.alexa_timestamp_tolerance),
                MAX_TIMESTAMP_TOLERANCE.as_secs()
            );
        }
        let tls = match (&serve.tls_cert, &serve.tls_key) {
            (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
            (None, None) => None,
            (Some(_), None) => bail!(
                "{} is set but {} is not: give both, or neither",
                given.name("tls_cert"),
                FlagsGiven::both_names("tls_key")
            ),
            (None, Some(_)) => bail!(
                "{} is set but {} is not: give both, or neither",
                given.name("tls_key"),
                FlagsGiven::both_names("tls_cert")
            ),
        };
        let policy = policy(serve)?;
        let deliveries = deliveries::load(
            serve,
            serve
                .smtp_url
                .as_deref()
                .is_some_and(|u| !u.trim().is_empty()),
            matches!(identity, IdentitySettings::Auth0(_)),
        )?;
        let oauth_access_token_ttl = serve.oauth_access_token_ttl;
        if !(Duration::from_secs(60)..=Duration::from_secs(86_400))
            .contains(&oauth_access_token_ttl)
        {
            bail!(
                "{}: must be between 1m and 1d",
                given.name("oauth_access_token_ttl")
            );
        }
        let public_url = match serve.public_url.as_deref() {
            Some(url) if !url.is_empty() => url.to_owned(),
            _ => format!(
                "{}://{}",
                if tls.is_some() { "https" } else { "http" },
                serve.listen
            ),
        };
        let secure_cookies =
            serve.secure_cookies || tls.is_some() || public_url.starts_with("https://");
        Ok(Settings {
            listen: serve.listen,
            base_path: serve.base_path.clone(),
            data_dir: data.data_dir.clone(),
            database_url: data.database_url.clone(),
            api_audience: data.api_audience.clone(),
            verify,
            skill_ids,
            progressive_after: serve.progressive_after.0,
            progressive_timeout: serve.progressive_timeout,
            alexa_api_test_endpoint: serve.alexa_api_test_endpoint.clone(),
            timestamp_tolerance,
            tls,
            metrics_listen: serve.metrics_listen,
            max_connections: serve.max_connections,
            smtp: serve
                .smtp_url
                .clone()
                .map(|url| (SecretString::from(url), serve.smtp_from.clone())),
            deliveries,
            policy,
            identity,
            public_url,
            secure_cookies,
            trust_forwarded_for: serve.trust_forwarded_for,
            privacy_policy_file: serve.privacy_policy_file.clone(),
            oauth_access_token_ttl,
        })
    }
}

/// The code policy; a value out of range is named as the person gave it
/// (`--code-digits 9: must be between 4 and 8`), never by the policy's own
/// field name.
fn policy(serve: &ServeArgs) -> anyhow::Result<ConfirmationPolicy> {
    let given = &serve.sources;
    let duration = |d: Duration| humantime::format_duration(d).to_string();
    let values: [(&str, String); 7] = [
        ("code_lifetime", duration(serve.code_lifetime)),
        ("max_failed_attempts", serve.max_failed_attempts.to_string()),
        ("max_codes_per_hour", serve.max_codes_per_hour.to_string()),
        (
            "max_sign_in_codes_per_hour",
            serve.max_sign_in_codes_per_hour.to_string(),
        ),
        ("lockout_cooldown", duration(serve.lockout_cooldown)),
        ("code_digits", serve.code_digits.to_string()),
        ("lockout_after", serve.lockout_after.to_string()),
    ];
    let named = |e: PolicyError| {
        let setting = e.setting();
        let value = values
            .iter()
            .find(|(id, _)| *id == setting)
            .map_or_else(String::new, |(_, v)| v.clone());
        let message = e.to_string();
        // The policy says "code_digits must be between 4 and 8".
        let rule = message
            .strip_prefix(setting)
            .map_or(message.as_str(), str::trim_start);
        let rule = rule.strip_prefix("must be ").unwrap_or(rule);
        anyhow::anyhow!("{}: must be {rule}", given.name_with_value(setting, value))
    };
    ConfirmationPolicy::default()
        .with_code_lifetime(serve.code_lifetime)
        .and_then(|p| p.with_max_failed_attempts(serve.max_failed_attempts))
        .and_then(|p| p.with_max_codes_per_hour(serve.max_codes_per_hour))
        .and_then(|p| p.with_max_sign_in_codes_per_hour(serve.max_sign_in_codes_per_hour))
        .and_then(|p| p.with_lockout_cooldown(serve.lockout_cooldown))
        .and_then(|p| p.with_code_digits(serve.code_digits))
        .and_then(|p| p.with_lockout_after(serve.lockout_after))
        .map_err(named)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pod serve ARGS` parsed as the binary parses it (clap reads the
    /// process environment for `POD_*`, which these tests leave alone),
    /// then loaded with `env` for the Auth0 settings.
    fn load(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let cli = crate::cli::Cli::try_parse_args(["pod", "serve"].iter().chain(args))?;
        let (serve, data) = cli.serve_args().expect("a serve command");
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::load(serve, data, &|k| env.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_embedded_mode_with_dev_verification() {
        let s = load(&[], &[]).unwrap();
        assert!(matches!(s.identity, IdentitySettings::Embedded));
        assert_eq!(s.verify, VerifySetting::Dev);
        assert_eq!(s.listen.to_string(), "127.0.0.1:7100");
        assert_eq!(s.base_path, "");
        assert_eq!(s.api_audience, "pod");
        assert_eq!(s.policy, ConfirmationPolicy::default());
        assert_eq!(s.public_url, "http://127.0.0.1:7100");
        assert!(!s.secure_cookies);
    }

    #[test]
    fn the_linked_access_token_lifetime_is_bounded_and_named() {
        assert_eq!(
            load(&[], &[]).unwrap().oauth_access_token_ttl,
            Duration::from_secs(3600)
        );
        let s = load(&["--oauth-access-token-ttl", "15m"], &[]).unwrap();
        assert_eq!(s.oauth_access_token_ttl, Duration::from_secs(900));
        for bad in ["30s", "2d"] {
            let error = load(&["--oauth-access-token-ttl", bad], &[]).unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("--oauth-access-token-ttl: must be between 1m and 1d"),
                "{error}"
            );
        }
    }

    #[test]
    fn flags_are_parsed_into_their_types() {
        let s = load(
            &[
                "--listen",
                "0.0.0.0:8080",
                "--base-path",
                "wt/",
                "--alexa-verify",
                "OFF",
                "--code-lifetime",
                "2m",
                "--lockout-cooldown",
                "30m",
                "--code-digits",
                "6",
                "--metrics-listen",
                "127.0.0.1:9100",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(s.listen.port(), 8080);
        assert_eq!(s.base_path, "/wt");
        assert_eq!(s.verify, VerifySetting::Off);
        assert_eq!(s.policy.code_lifetime(), Duration::from_secs(120));
        assert_eq!(s.policy.code_digits(), 6);
        assert_eq!(s.metrics_listen.unwrap().port(), 9100);
    }

    #[test]
    fn progressive_responses_come_after_a_threshold_or_never() {
        let s = load(&[], &[]).unwrap();
        assert_eq!(s.progressive_after, Some(Duration::from_millis(300)));
        assert_eq!(s.progressive_timeout, Duration::from_secs(1));
        assert_eq!(s.alexa_api_test_endpoint, None);
        let s = load(
            &[
                "--progressive-after",
                "1s",
                "--progressive-timeout",
                "500ms",
                "--alexa-api-test-endpoint",
                "http://127.0.0.1:9000",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(s.progressive_after, Some(Duration::from_secs(1)));
        assert_eq!(s.progressive_timeout, Duration::from_millis(500));
        assert_eq!(
            s.alexa_api_test_endpoint.as_deref(),
            Some("http://127.0.0.1:9000")
        );
        for off in ["off", "OFF", "never"] {
            let s = load(&["--progressive-after", off], &[]).unwrap();
            assert_eq!(s.progressive_after, None, "{off}");
        }
        let error = load(&["--progressive-after", "soon"], &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("--progressive-after"), "{error}");
    }

    #[test]
    fn an_https_public_url_makes_cookies_secure() {
        let s = load(&["--public-url", "https://pod.example/"], &[]).unwrap();
        assert_eq!(s.public_url, "https://pod.example");
        assert!(s.secure_cookies);
        assert!(load(&["--secure-cookies"], &[]).unwrap().secure_cookies);
    }

    #[test]
    fn bad_flags_name_the_flag_and_nothing_internal() {
        let cases: &[(&[&str], &str)] = &[
            (&["--listen", "nowhere"], "--listen"),
            (&["--metrics-listen", "9100"], "--metrics-listen"),
            (&["--alexa-verify", "maybe"], "--alexa-verify"),
            (&["--alexa-verify", "strict"], "--skill-id"),
            (
                &["--alexa-timestamp-tolerance", "151"],
                "--alexa-timestamp-tolerance 151",
            ),
            (
                &["--alexa-timestamp-tolerance", "soon"],
                "--alexa-timestamp-tolerance",
            ),
            (&["--base-path", "/a b"], "--base-path"),
            (&["--tls-cert", "c.pem"], "--tls-cert"),
            (&["--code-digits", "3"], "--code-digits 3"),
            (&["--code-digits", "9"], "--code-digits 9"),
            (&["--lockout-after", "101"], "--lockout-after 101"),
            (&["--max-failed-attempts", "0"], "--max-failed-attempts 0"),
            (&["--code-lifetime", "soon"], "--code-lifetime"),
            (&["--code-lifetime", "2h"], "--code-lifetime 2h"),
            (&["--lockout-cooldown", "1s"], "--lockout-cooldown 1s"),
            (&["--public-url", "pod.example"], "--public-url"),
            (&["--api-audience", " "], "--api-audience"),
        ];
        let internal = [
            "code_digits",
            "code_lifetime",
            "lockout_after",
            "lockout_cooldown",
            "max_failed_attempts",
            "POD_CODE",
            "POD_LOCKOUT",
        ];
        for (args, named) in cases {
            let error = match load(args, &[]) {
                Ok(_) => panic!("{args:?} was accepted"),
                Err(error) => format!("{error:#}"),
            };
            assert!(error.contains(named), "{args:?}: {error}");
            for word in internal {
                assert!(!error.contains(word), "{args:?} leaks {word}: {error}");
            }
        }
        let error = format!("{:#}", load(&["--code-digits", "9"], &[]).unwrap_err());
        assert_eq!(error, "--code-digits 9: must be between 4 and 8");
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
        assert!(error.contains("Auth0 mode"), "{error}");
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
        let missing = format!(
            "{:#}",
            load(&["--secrets", "/nonexistent.ini"], &[]).unwrap_err()
        );
        assert!(missing.contains("--secrets"), "{missing}");
    }
}
