//! SMS codes through Twilio's Messaging API.

use std::fmt;

use async_trait::async_trait;
use pod_domain::Channel;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tracing::{error, info};

use super::http::{self, DeliveryBudget, Verdict, checked_url};
use super::{CodeDelivery, CodeMessage, DeliveryError, code_text};

/// Twilio's API host.
pub const TWILIO_API: &str = "https://api.twilio.com";

/// How pod authenticates to Twilio (HTTP Basic).
#[derive(Clone)]
pub enum TwilioCredentials {
    /// The account's auth token (user: the Account SID).
    AuthToken(SecretString),
    /// An API key (user: its `SK…` SID, password: its secret); the Account
    /// SID stays in the path.
    ApiKey {
        /// `SK` and 32 hex digits.
        sid: String,
        /// The key's secret.
        secret: SecretString,
    },
}

impl fmt::Debug for TwilioCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TwilioCredentials::AuthToken(_) => f.write_str("AuthToken(****)"),
            TwilioCredentials::ApiKey { sid, .. } => f
                .debug_struct("ApiKey")
                .field("sid", sid)
                .field("secret", &"****")
                .finish(),
        }
    }
}

/// Who the SMS comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TwilioSender {
    /// A Twilio phone number (E.164) or alphanumeric sender id: `From`.
    From(String),
    /// A Messaging Service (`MG…`) that picks the sender: `MessagingServiceSid`.
    MessagingService(String),
}

/// Settings of [`TwilioDelivery`].
#[derive(Debug, Clone)]
pub struct TwilioConfig {
    /// `AC` and 32 hex digits.
    pub account_sid: String,
    /// Auth token or API key.
    pub credentials: TwilioCredentials,
    /// `From` or `MessagingServiceSid`.
    pub sender: TwilioSender,
    /// `https://api.twilio.com` ([`TWILIO_API`]); another base for a proxy
    /// or a test fake (plain `http` only on a loopback address).
    pub base_url: String,
    /// Time limits and retries.
    pub budget: DeliveryBudget,
}

impl TwilioConfig {
    /// A config for Twilio's own API with the default budget.
    pub fn new(
        account_sid: impl Into<String>,
        credentials: TwilioCredentials,
        sender: TwilioSender,
    ) -> Self {
        TwilioConfig {
            account_sid: account_sid.into(),
            credentials,
            sender,
            base_url: TWILIO_API.to_owned(),
            budget: DeliveryBudget::default(),
        }
    }
}

/// Why a [`TwilioConfig`] is unusable. Messages never repeat a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwilioConfigError {
    /// The Account SID is not `AC` and 32 hex digits.
    #[error("the Account SID is `AC` followed by 32 hex digits")]
    AccountSid,
    /// The API key SID is not `SK` and 32 hex digits.
    #[error("the API key SID is `SK` followed by 32 hex digits")]
    ApiKeySid,
    /// The auth token or key secret is empty.
    #[error("the auth token or API key secret is empty")]
    Secret,
    /// The Messaging Service SID is not `MG` and 32 hex digits.
    #[error("the Messaging Service SID is `MG` followed by 32 hex digits")]
    MessagingService,
    /// The sender is neither a phone number nor an alphanumeric sender id.
    #[error(
        "the sender is a phone number (+ and 6 to 15 digits) or an alphanumeric sender id (1 to 11 letters, digits or spaces, with a letter)"
    )]
    From,
    /// The base URL is not an `https` URL (or `http` on loopback).
    #[error("{0}")]
    BaseUrl(String),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
}

/// Whether `sid` is `prefix` and 32 hex digits.
fn is_sid(sid: &str, prefix: &str) -> bool {
    sid.len() == 34 && sid.starts_with(prefix) && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

fn valid_from(from: &str) -> bool {
    if let Some(digits) = from.strip_prefix('+') {
        (6..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    } else {
        (1..=11).contains(&from.len())
            && from.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
            && from.bytes().any(|b| b.is_ascii_alphabetic())
    }
}

/// Sends SMS codes through Twilio's Messaging API: `POST
/// {base}/2010-04-01/Accounts/{AccountSid}/Messages.json` with the form
/// fields `To`, `Body` and `From` or `MessagingServiceSid`, HTTP Basic
/// authenticated. Handles the SMS channel only.
///
/// Twilio's refusals (`{"code", "message", "more_info", "status"}`) become:
///
/// | answer | outcome |
/// |---|---|
/// | 2xx | delivered (Twilio queued the message) |
/// | 400 with an error about the recipient (21211 invalid number, 21614 not a mobile number, 21610 unsubscribed, 21408 region not enabled, 21612 unreachable, …) | [`DeliveryError::Undeliverable`] |
/// | 401, 403, 404, or 400 about the sender or account (20003 authentication, 21212/21606/21659 `From`, 217xx Messaging Service, …) | [`DeliveryError::Misconfigured`], logged at error level |
/// | another 4xx | [`DeliveryError::Refused`] |
/// | 429, 503 | sent again within the budget ([`DeliveryBudget`]), then [`DeliveryError::Unavailable`] |
/// | another 5xx | [`DeliveryError::Unavailable`], not sent again |
///
/// Twilio's `message` is never logged or kept: it repeats the phone number.
/// Neither is the code, the token, or the full number (only its masked
/// form, `***23`).
pub struct TwilioDelivery {
    client: reqwest::Client,
    url: reqwest::Url,
    account_sid: String,
    credentials: TwilioCredentials,
    sender: TwilioSender,
    budget: DeliveryBudget,
}

impl fmt::Debug for TwilioDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioDelivery")
            .field("url", &self.url.as_str())
            .field("credentials", &self.credentials)
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

impl TwilioDelivery {
    /// Checks `config` (SIDs, sender, base URL); connects only when a code
    /// is sent.
    pub fn new(config: &TwilioConfig) -> Result<Self, TwilioConfigError> {
        if !is_sid(&config.account_sid, "AC") {
            return Err(TwilioConfigError::AccountSid);
        }
        match &config.credentials {
            TwilioCredentials::AuthToken(token) if token.expose_secret().trim().is_empty() => {
                return Err(TwilioConfigError::Secret);
            }
            TwilioCredentials::ApiKey { sid, .. } if !is_sid(sid, "SK") => {
                return Err(TwilioConfigError::ApiKeySid);
            }
            TwilioCredentials::ApiKey { secret, .. }
                if secret.expose_secret().trim().is_empty() =>
            {
                return Err(TwilioConfigError::Secret);
            }
            _ => {}
        }
        match &config.sender {
            TwilioSender::From(from) if !valid_from(from) => return Err(TwilioConfigError::From),
            TwilioSender::MessagingService(sid) if !is_sid(sid, "MG") => {
                return Err(TwilioConfigError::MessagingService);
            }
            _ => {}
        }
        let base =
            checked_url(&config.base_url, "the base URL").map_err(TwilioConfigError::BaseUrl)?;
        let url = reqwest::Url::parse(&format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            base.as_str().trim_end_matches('/'),
            config.account_sid
        ))
        .map_err(|e| TwilioConfigError::BaseUrl(e.to_string()))?;
        let client = config.budget.client().map_err(TwilioConfigError::Client)?;
        Ok(TwilioDelivery {
            client,
            url,
            account_sid: config.account_sid.clone(),
            credentials: config.credentials.clone(),
            sender: config.sender.clone(),
            budget: config.budget,
        })
    }

    fn basic_auth(&self) -> (&str, &SecretString) {
        match &self.credentials {
            TwilioCredentials::AuthToken(token) => (&self.account_sid, token),
            TwilioCredentials::ApiKey { sid, secret } => (sid, secret),
        }
    }
}

/// Twilio's error body.
#[derive(Debug, Default, Deserialize)]
struct TwilioError {
    code: Option<u32>,
    more_info: Option<String>,
}

/// Errors about the recipient: the code cannot reach this number.
const RECIPIENT_ERRORS: &[u32] = &[
    21211, // invalid 'To' phone number
    21214, // 'To' number cannot be reached
    21217, // phone number does not appear to be valid
    21265, // 'To' number cannot be a short code
    21407, // this number type does not support SMS
    21408, // permission to send an SMS has not been enabled for the region
    21421, // phone number is invalid
    21608, // trial accounts send only to verified numbers
    21610, // the recipient unsubscribed (STOP)
    21612, // 'To' and 'From' cannot be connected
    21614, // 'To' number is not a valid mobile number
];

/// Errors about pod's account, credentials or sender.
const CONFIGURATION_ERRORS: &[u32] = &[
    10001, // account is not active
    20003, // authentication failed
    20404, // not found (Account SID)
    21212, // invalid 'From' number
    21601, // 'From' is not SMS-capable
    21603, // 'From' is required
    21606, // 'From' is not a message-capable Twilio number
    21659, // 'From' is not a Twilio number
    21660, // 'From' does not belong to the account
    21701, 21702, 21703, 21704, 21705, // Messaging Service
];

impl TwilioDelivery {
    fn judge(&self, masked: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Verdict {
        if status.is_success() {
            return Verdict::Delivered;
        }
        let reply: TwilioError = serde_json::from_slice(body).unwrap_or_default();
        let code = reply.code.unwrap_or(0);
        let what = match (&reply.code, &reply.more_info) {
            (Some(code), Some(info)) => {
                format!("HTTP {}, Twilio error {code}, {info}", status.as_u16())
            }
            (Some(code), None) => format!("HTTP {}, Twilio error {code}", status.as_u16()),
            _ => format!("HTTP {}", status.as_u16()),
        };
        if http::refused_unaccepted(status) {
            return Verdict::Retry {
                after: http::retry_after(headers),
                error: DeliveryError::Unavailable(format!("Twilio did not take the SMS ({what})")),
            };
        }
        let misconfigured = matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
        ) || CONFIGURATION_ERRORS.contains(&code);
        if misconfigured {
            let (user, _) = self.basic_auth();
            error!(
                account = %mask_sid(&self.account_sid),
                user = %mask_sid(user),
                twilio_error = code,
                status = status.as_u16(),
                "Twilio refused pod's configuration: check the Account SID, the auth token or API key, and the sender (From or Messaging Service); no SMS code can be sent until it is fixed"
            );
            return Verdict::Fail(DeliveryError::Misconfigured(format!(
                "Twilio refused the account, credentials or sender ({what})"
            )));
        }
        if RECIPIENT_ERRORS.contains(&code) {
            return Verdict::Fail(DeliveryError::Undeliverable(format!(
                "Twilio cannot send an SMS to {masked} ({what})"
            )));
        }
        if status.is_client_error() {
            return Verdict::Fail(DeliveryError::Refused(format!(
                "Twilio refused the SMS to {masked} ({what})"
            )));
        }
        Verdict::Fail(DeliveryError::Unavailable(format!(
            "Twilio failed ({what}); not sent again, since it may have taken the SMS"
        )))
    }
}

/// `AC12…cdef`: enough to tell accounts apart in a log.
fn mask_sid(sid: &str) -> String {
    if sid.len() > 8 && sid.is_ascii() {
        format!("{}…{}", &sid[..4], &sid[sid.len() - 4..])
    } else {
        "****".to_owned()
    }
}

#[async_trait]
impl CodeDelivery for TwilioDelivery {
    fn handles(&self, channel: Channel) -> bool {
        channel == Channel::Sms
    }

    async fn deliver(&self, message: &CodeMessage<'_>) -> Result<(), DeliveryError> {
        let masked = message.destination.masked();
        let body = code_text(message);
        let to = message.destination.address();
        let (sender_field, sender) = match &self.sender {
            TwilioSender::From(from) => ("From", from.as_str()),
            TwilioSender::MessagingService(sid) => ("MessagingServiceSid", sid.as_str()),
        };
        let form = [("To", to), (sender_field, sender), ("Body", body.as_str())];
        let (user, password) = self.basic_auth();
        let request = || {
            self.client
                .post(self.url.clone())
                .basic_auth(user, Some(password.expose_secret()))
                .header(reqwest::header::ACCEPT, "application/json")
                .form(&form)
        };
        let result =
            http::send_with_retries(&self.budget, "Twilio", request, |status, headers, body| {
                self.judge(&masked, status, headers, body)
            })
            .await;
        if result.is_ok() {
            info!(to = %masked, "one-time code sent by SMS through Twilio");
        }
        result
    }
}
