//! Which real deliveries the operator configured for one-time codes
//! (Twilio for SMS, a signed webhook for SMS and/or email; SMTP is read
//! with the other settings), checked at start-up. Every error names the
//! flag or variable as given and never repeats a secret or the webhook URL.
//!
//! Each channel has at most one real delivery: SMS through Twilio *or*
//! the webhook, email over SMTP *or* the webhook. The outbox takes only
//! the channels none is configured for (`app.rs`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use pod_adapters_local::{
    DeliveryBudget, SystemClock, TwilioConfig, TwilioConfigError, TwilioCredentials,
    TwilioDelivery, TwilioSender, WebhookConfig, WebhookConfigError, WebhookDelivery,
};
use pod_domain::Channel;
use secrecy::SecretString;

use super::FlagsGiven;
use super::args::ServeArgs;

/// The shortest and longest `POD_DELIVERY_TIMEOUT`.
const TIMEOUT_RANGE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(6));

/// The real code deliveries besides SMTP, validated.
#[derive(Debug, Clone, Default)]
pub struct DeliverySettings {
    /// SMS through Twilio.
    pub twilio: Option<TwilioConfig>,
    /// The operator's webhook, with its channels.
    pub webhook: Option<WebhookConfig>,
}

impl DeliverySettings {
    /// Whether any is configured.
    pub fn any(&self) -> bool {
        self.twilio.is_some() || self.webhook.is_some()
    }
}

/// A setting's value, `None` when unset or blank.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Reads and checks the delivery settings; `smtp` says whether email
/// already goes over SMTP, `auth0` whether Auth0 sends the codes.
pub(super) fn load(serve: &ServeArgs, smtp: bool, auth0: bool) -> anyhow::Result<DeliverySettings> {
    let names = &serve.sources;
    let timeout = serve.delivery_timeout;
    if !(TIMEOUT_RANGE.0..=TIMEOUT_RANGE.1).contains(&timeout) {
        bail!(
            "{}: must be 1s to 6s (Alexa waits 8 seconds for the whole answer)",
            names.name_with_value("delivery_timeout", humantime::format_duration(timeout))
        );
    }
    let budget = DeliveryBudget {
        deadline: timeout,
        ..DeliveryBudget::default()
    };
    let twilio = twilio(serve, budget)?;
    let webhook = webhook(serve, budget, smtp, twilio.is_some())?;
    let settings = DeliverySettings { twilio, webhook };
    if auth0 && settings.any() {
        let id = if settings.twilio.is_some() {
            "twilio_account_sid"
        } else {
            "webhook_url"
        };
        bail!(
            "{}: Auth0 mode sends its own codes (passwordless); pod's code deliveries are for the embedded mode",
            names.name(id)
        );
    }
    Ok(settings)
}

fn twilio(serve: &ServeArgs, budget: DeliveryBudget) -> anyhow::Result<Option<TwilioConfig>> {
    let names = &serve.sources;
    let parts = [
        ("twilio_auth_token", given(&serve.twilio_auth_token)),
        ("twilio_api_key_sid", given(&serve.twilio_api_key_sid)),
        ("twilio_api_key_secret", given(&serve.twilio_api_key_secret)),
        ("twilio_from", given(&serve.twilio_from)),
        (
            "twilio_messaging_service_sid",
            given(&serve.twilio_messaging_service_sid),
        ),
    ];
    let Some(account_sid) = given(&serve.twilio_account_sid) else {
        if let Some((id, _)) = parts.iter().find(|(_, value)| value.is_some()) {
            bail!(
                "{} is set but {} is not: Twilio needs the Account SID (AC…)",
                names.name(id),
                FlagsGiven::both_names("twilio_account_sid")
            );
        }
        return Ok(None);
    };
    let either = |a: &str, b: &str| {
        format!(
            "{} or {}",
            FlagsGiven::both_names(a),
            FlagsGiven::both_names(b)
        )
    };
    let credentials = match (
        given(&serve.twilio_auth_token),
        given(&serve.twilio_api_key_sid),
        given(&serve.twilio_api_key_secret),
    ) {
        (Some(token), None, None) => TwilioCredentials::AuthToken(SecretString::from(token)),
        (None, Some(sid), Some(secret)) => TwilioCredentials::ApiKey {
            sid: sid.to_owned(),
            secret: SecretString::from(secret),
        },
        (None, None, None) => bail!(
            "{} is set but Twilio has no credentials: set {}, or an API key with {}",
            names.name("twilio_account_sid"),
            FlagsGiven::both_names("twilio_auth_token"),
            either("twilio_api_key_sid", "twilio_api_key_secret").replacen(" or ", " and ", 1)
        ),
        (Some(_), _, _) => bail!(
            "{} and an API key ({}) are both set: give one of them",
            names.name("twilio_auth_token"),
            names.name(if given(&serve.twilio_api_key_sid).is_some() {
                "twilio_api_key_sid"
            } else {
                "twilio_api_key_secret"
            })
        ),
        (None, Some(_), None) => bail!(
            "{} is set but {} is not: give both",
            names.name("twilio_api_key_sid"),
            FlagsGiven::both_names("twilio_api_key_secret")
        ),
        (None, None, Some(_)) => bail!(
            "{} is set but {} is not: give both",
            names.name("twilio_api_key_secret"),
            FlagsGiven::both_names("twilio_api_key_sid")
        ),
    };
    let sender = match (
        given(&serve.twilio_from),
        given(&serve.twilio_messaging_service_sid),
    ) {
        (Some(from), None) => TwilioSender::From(from.to_owned()),
        (None, Some(service)) => TwilioSender::MessagingService(service.to_owned()),
        (None, None) => bail!(
            "{} is set but Twilio has no sender: set {}",
            names.name("twilio_account_sid"),
            either("twilio_from", "twilio_messaging_service_sid")
        ),
        (Some(_), Some(_)) => bail!(
            "{} and {} are both set: give one of them",
            names.name("twilio_from"),
            names.name("twilio_messaging_service_sid")
        ),
    };
    let config = TwilioConfig {
        account_sid: account_sid.to_owned(),
        credentials,
        sender,
        base_url: serve.twilio_base_url.trim().to_owned(),
        budget,
    };
    if let Err(error) = TwilioDelivery::new(&config) {
        let id = match &error {
            TwilioConfigError::AccountSid => "twilio_account_sid",
            TwilioConfigError::ApiKeySid => "twilio_api_key_sid",
            TwilioConfigError::Secret => match config.credentials {
                TwilioCredentials::AuthToken(_) => "twilio_auth_token",
                TwilioCredentials::ApiKey { .. } => "twilio_api_key_secret",
            },
            TwilioConfigError::MessagingService => "twilio_messaging_service_sid",
            TwilioConfigError::From => "twilio_from",
            TwilioConfigError::BaseUrl(_) | TwilioConfigError::Client(_) => "twilio_base_url",
        };
        bail!("{}: {error}", names.name(id));
    }
    Ok(Some(config))
}

fn webhook(
    serve: &ServeArgs,
    budget: DeliveryBudget,
    smtp: bool,
    twilio: bool,
) -> anyhow::Result<Option<WebhookConfig>> {
    let names = &serve.sources;
    let (url, secret) = match (given(&serve.webhook_url), given(&serve.webhook_secret)) {
        (Some(url), Some(secret)) => (url, secret),
        (None, None) => {
            if given(&serve.webhook_channels).is_some() {
                bail!(
                    "{} is set but {} is not",
                    names.name("webhook_channels"),
                    FlagsGiven::both_names("webhook_url")
                );
            }
            return Ok(None);
        }
        (Some(_), None) => bail!(
            "{} is set but {} is not: the webhook's requests are signed with it",
            names.name("webhook_url"),
            FlagsGiven::both_names("webhook_secret")
        ),
        (None, Some(_)) => bail!(
            "{} is set but {} is not",
            names.name("webhook_secret"),
            FlagsGiven::both_names("webhook_url")
        ),
    };
    // Who already takes each channel.
    let taken_by = |channel: Channel| match channel {
        Channel::Sms if twilio => Some("twilio_account_sid"),
        Channel::Email if smtp => Some("smtp_url"),
        _ => None,
    };
    let channels = match given(&serve.webhook_channels) {
        Some(list) => {
            let mut channels = Vec::new();
            for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                let channel = match word.to_ascii_lowercase().as_str() {
                    "sms" => Channel::Sms,
                    "email" => Channel::Email,
                    _ => bail!(
                        "{}: `{word}` is not a channel; expected sms, email or sms,email",
                        names.name_with_value("webhook_channels", list)
                    ),
                };
                if let Some(other) = taken_by(channel) {
                    bail!(
                        "{}: {} codes already go through {}; each channel has one delivery",
                        names.name_with_value("webhook_channels", list),
                        channel.as_str(),
                        names.name(other)
                    );
                }
                if !channels.contains(&channel) {
                    channels.push(channel);
                }
            }
            if channels.is_empty() {
                bail!(
                    "{}: expected sms, email or sms,email",
                    names.name_with_value("webhook_channels", list)
                );
            }
            channels
        }
        None => {
            let free: Vec<Channel> = [Channel::Sms, Channel::Email]
                .into_iter()
                .filter(|c| taken_by(*c).is_none())
                .collect();
            if free.is_empty() {
                bail!(
                    "{} is set, but SMS goes through {} and email through {}: set {} to move a channel to the webhook, or unset it",
                    names.name("webhook_url"),
                    names.name("twilio_account_sid"),
                    names.name("smtp_url"),
                    FlagsGiven::both_names("webhook_channels")
                );
            }
            free
        }
    };
    let config = WebhookConfig {
        url: url.to_owned(),
        secret: SecretString::from(secret),
        channels,
        budget,
    };
    if let Err(error) = WebhookDelivery::new(&config, Arc::new(SystemClock)) {
        let id = match error {
            WebhookConfigError::Secret => "webhook_secret",
            WebhookConfigError::NoChannel => "webhook_channels",
            WebhookConfigError::Url(_) | WebhookConfigError::Client(_) => "webhook_url",
        };
        bail!("{}: {error}", names.name(id));
    }
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
    const KEY: &str = "SK0123456789abcdef0123456789abcdef";
    const SERVICE: &str = "MG0123456789abcdef0123456789abcdef";
    const TOKEN: &str = "tok-hunter2";
    const HOOK_SECRET: &str = "whsec-hunter2-0123456789";

    fn load(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let cli = crate::cli::Cli::try_parse_args(["pod", "serve"].iter().chain(args))?;
        let (serve, data) = cli.serve_args().expect("a serve command");
        let env: std::collections::HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::load(serve, data, &|k| env.get(k).cloned())
    }

    fn error(args: &[&str]) -> String {
        match load(args, &[]) {
            Ok(_) => panic!("{args:?} was accepted"),
            Err(error) => format!("{error:#}"),
        }
    }

    #[test]
    fn nothing_configured_means_no_real_delivery() {
        let s = load(&[], &[]).unwrap();
        assert!(!s.deliveries.any());
    }

    #[test]
    fn twilio_with_a_token_or_an_api_key() {
        let s = load(
            &[
                "--twilio-account-sid",
                ACCOUNT,
                "--twilio-auth-token",
                TOKEN,
                "--twilio-from",
                "+15550100",
                "--delivery-timeout",
                "3s",
            ],
            &[],
        )
        .unwrap();
        let twilio = s.deliveries.twilio.as_ref().unwrap();
        assert_eq!(twilio.account_sid, ACCOUNT);
        assert_eq!(twilio.base_url, "https://api.twilio.com");
        assert_eq!(twilio.sender, TwilioSender::From("+15550100".into()));
        assert_eq!(twilio.budget.deadline, Duration::from_secs(3));
        assert!(
            !format!("{s:?}").contains(TOKEN),
            "secrets stay out of debug output"
        );

        let s = load(
            &[
                "--twilio-account-sid",
                ACCOUNT,
                "--twilio-api-key-sid",
                KEY,
                "--twilio-api-key-secret",
                TOKEN,
                "--twilio-messaging-service-sid",
                SERVICE,
                "--twilio-base-url",
                "http://127.0.0.1:9",
            ],
            &[],
        )
        .unwrap();
        let twilio = s.deliveries.twilio.unwrap();
        assert!(
            matches!(twilio.credentials, TwilioCredentials::ApiKey { ref sid, .. } if sid == KEY)
        );
        assert_eq!(
            twilio.sender,
            TwilioSender::MessagingService(SERVICE.into())
        );
    }

    #[test]
    fn incomplete_or_bad_twilio_settings_name_the_setting_and_no_secret() {
        let base = ["--twilio-account-sid", ACCOUNT];
        let with = |more: &[&'static str]| -> Vec<&'static str> {
            base.iter().chain(more).copied().collect()
        };
        let cases: Vec<(Vec<&str>, &str)> = vec![
            (
                vec!["--twilio-auth-token", TOKEN],
                "--twilio-auth-token is set but --twilio-account-sid (or POD_TWILIO_ACCOUNT_SID) is not",
            ),
            (with(&["--twilio-from", "+15550100"]), "no credentials"),
            (with(&["--twilio-auth-token", TOKEN]), "no sender"),
            (
                with(&[
                    "--twilio-auth-token",
                    TOKEN,
                    "--twilio-api-key-sid",
                    KEY,
                    "--twilio-from",
                    "+15550100",
                ]),
                "--twilio-auth-token and an API key (--twilio-api-key-sid)",
            ),
            (
                with(&["--twilio-api-key-sid", KEY, "--twilio-from", "+15550100"]),
                "POD_TWILIO_API_KEY_SECRET",
            ),
            (
                with(&[
                    "--twilio-auth-token",
                    TOKEN,
                    "--twilio-from",
                    "+15550100",
                    "--twilio-messaging-service-sid",
                    SERVICE,
                ]),
                "--twilio-from and --twilio-messaging-service-sid are both set",
            ),
            (
                with(&["--twilio-auth-token", TOKEN, "--twilio-from", "555 0100"]),
                "--twilio-from: the sender is a phone number",
            ),
            (
                with(&[
                    "--twilio-auth-token",
                    TOKEN,
                    "--twilio-messaging-service-sid",
                    "MG1",
                ]),
                "--twilio-messaging-service-sid: ",
            ),
            (
                with(&[
                    "--twilio-auth-token",
                    TOKEN,
                    "--twilio-from",
                    "+15550100",
                    "--twilio-base-url",
                    "http://twilio.example",
                ]),
                "--twilio-base-url: the base URL must be https",
            ),
            (
                with(&[
                    "--twilio-auth-token",
                    TOKEN,
                    "--twilio-from",
                    "+15550100",
                    "--delivery-timeout",
                    "8s",
                ]),
                "--delivery-timeout 8s: must be 1s to 6s",
            ),
        ];
        for (args, named) in cases {
            let error = error(&args);
            assert!(error.contains(named), "{args:?}: {error}");
            assert!(!error.contains(TOKEN), "{args:?} leaks the token: {error}");
        }
        let bad_sid = error(&[
            "--twilio-account-sid",
            "AC123",
            "--twilio-auth-token",
            TOKEN,
            "--twilio-from",
            "+15550100",
        ]);
        assert!(bad_sid.starts_with("--twilio-account-sid: "), "{bad_sid}");
    }

    #[test]
    fn the_webhook_takes_the_channels_no_other_delivery_takes() {
        let hook = [
            "--webhook-url",
            "https://hooks.example.com/pod?key=hunter2",
            "--webhook-secret",
            HOOK_SECRET,
        ];
        let twilio = [
            "--twilio-account-sid",
            ACCOUNT,
            "--twilio-auth-token",
            TOKEN,
            "--twilio-from",
            "+15550100",
        ];
        let smtp = ["--smtp-url", "smtp://127.0.0.1:2525"];
        let channels = |args: Vec<&str>| {
            load(&args, &[])
                .unwrap()
                .deliveries
                .webhook
                .unwrap()
                .channels
        };
        assert_eq!(channels(hook.to_vec()), [Channel::Sms, Channel::Email]);
        assert_eq!(channels([&hook[..], &smtp[..]].concat()), [Channel::Sms]);
        assert_eq!(
            channels([&hook[..], &twilio[..]].concat()),
            [Channel::Email]
        );
        assert_eq!(
            channels([&hook[..], &["--webhook-channels", "EMAIL, sms"][..]].concat()),
            [Channel::Email, Channel::Sms]
        );

        let cases: Vec<(Vec<&str>, &str)> = vec![
            (
                [&hook[..], &twilio[..], &smtp[..]].concat(),
                "SMS goes through --twilio-account-sid and email through --smtp-url",
            ),
            (
                [&hook[..], &twilio[..], &["--webhook-channels", "sms"][..]].concat(),
                "sms codes already go through --twilio-account-sid",
            ),
            (
                [
                    &hook[..],
                    &smtp[..],
                    &["--webhook-channels", "sms,email"][..],
                ]
                .concat(),
                "email codes already go through --smtp-url",
            ),
            (
                [&hook[..], &["--webhook-channels", "fax"][..]].concat(),
                "`fax` is not a channel",
            ),
            (
                vec!["--webhook-url", "https://hooks.example.com/pod?key=hunter2"],
                "--webhook-secret (or POD_WEBHOOK_SECRET) is not",
            ),
            (
                vec!["--webhook-secret", HOOK_SECRET],
                "--webhook-url (or POD_WEBHOOK_URL) is not",
            ),
            (
                vec![
                    "--webhook-url",
                    "http://hooks.example.com/pod?key=hunter2",
                    "--webhook-secret",
                    HOOK_SECRET,
                ],
                "--webhook-url: the webhook URL must be https",
            ),
            (
                vec![
                    "--webhook-url",
                    "https://hooks.example.com/pod?key=hunter2",
                    "--webhook-secret",
                    "hunter2",
                ],
                "--webhook-secret: the secret must be at least 16 bytes",
            ),
        ];
        for (args, named) in cases {
            let error = error(&args);
            assert!(error.contains(named), "{args:?}: {error}");
            assert!(
                !error.contains("hunter2"),
                "{args:?} leaks a secret: {error}"
            );
        }
    }

    #[test]
    fn auth0_mode_refuses_pods_deliveries() {
        let env = [
            ("AUTH0_DOMAIN", "t.auth0.com"),
            ("API_ID", "https://pizza"),
            ("APP_CLIENT_ID", "cid"),
            ("APP_CLIENT_SECRET", "shh"),
        ];
        let error = format!(
            "{:#}",
            load(
                &[
                    "--skill-id",
                    "s",
                    "--webhook-url",
                    "https://hooks.example.com",
                    "--webhook-secret",
                    HOOK_SECRET,
                ],
                &env,
            )
            .unwrap_err()
        );
        assert!(error.contains("--webhook-url: Auth0 mode"), "{error}");
    }
}
