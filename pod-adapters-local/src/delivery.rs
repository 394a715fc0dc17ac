//! Getting a one-time code to its holder: the outbox file (development),
//! SMTP for email, Twilio's Messaging API for SMS ([`twilio`]) and a signed
//! webhook to the operator's own service for either ([`webhook`]); the
//! HTTP deliveries share one retry rule ([`http`]).

mod http;
mod twilio;
mod webhook;

pub use http::DeliveryBudget;
pub use twilio::{
    TWILIO_API, TwilioConfig, TwilioConfigError, TwilioCredentials, TwilioDelivery, TwilioSender,
};
pub use webhook::{
    WEBHOOK_DELIVERY_ID_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER, WebhookConfig,
    WebhookConfigError, WebhookDelivery, WebhookPayload, webhook_signature,
};

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use pod_domain::{Channel, CustomerId, Destination, Timestamp};
use pod_ports::{CodeError, CodePurpose, OneTimeCode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

/// The tracing target of the outbox's log line (masked address, channel,
/// order id; never the code: see [`Outbox`]).
pub const OUTBOX_TARGET: &str = "pod::outbox";

/// One code on its way out, as [`crate::LocalCodes`] hands it to each
/// [`CodeDelivery`].
#[derive(Debug, Clone, Copy)]
pub struct CodeMessage<'a> {
    /// Whose code.
    pub customer: &'a CustomerId,
    /// Where it goes.
    pub destination: &'a Destination,
    /// What it is for.
    pub purpose: &'a CodePurpose,
    /// The code itself (its `Debug` hides the digits).
    pub code: &'a OneTimeCode,
    /// When it was issued.
    pub at: Timestamp,
    /// The first moment it no longer verifies.
    pub expires_at: Timestamp,
}

/// Why a code could not be delivered. The message never contains the code.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The outbox file could not be written.
    #[error("outbox: {0}")]
    Outbox(#[source] io::Error),
    /// The address or message was refused before sending.
    #[error("email not built: {0}")]
    Message(String),
    /// The mail server could not be reached, timed out or refused the mail.
    #[error("smtp: {0}")]
    Smtp(String),
    /// The provider refused the address itself (an invalid or unreachable
    /// number, an unsubscribed recipient): the code cannot be delivered
    /// there, and trying again will not change that.
    #[error("undeliverable: {0}")]
    Undeliverable(String),
    /// The provider refused pod's credentials, sender or URL: a
    /// configuration error the operator must fix (logged at error level,
    /// never with a secret).
    #[error("misconfigured: {0}")]
    Misconfigured(String),
    /// The provider refused this message for another reason.
    #[error("refused: {0}")]
    Refused(String),
    /// The provider could not be reached, or did not accept the code (rate
    /// limit, outage), also after the retries the budget allows: nothing
    /// was sent; a later attempt may succeed.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// No answer came in time after the request may have reached the
    /// provider: the code may or may not have been sent, so it was not
    /// sent again.
    #[error("outcome unknown: {0}")]
    Ambiguous(String),
}

impl DeliveryError {
    /// What the [`pod_ports::OneTimeCodes`] port reports for this failure:
    /// a configuration error or a provider that is down is
    /// [`CodeError::Unavailable`] (pod cannot send codes right now); every
    /// other failure is about this code, [`CodeError::DeliveryFailed`]. The
    /// text never contains the code.
    pub fn to_code_error(&self) -> CodeError {
        match self {
            DeliveryError::Misconfigured(_) | DeliveryError::Unavailable(_) => {
                CodeError::Unavailable(self.to_string())
            }
            _ => CodeError::DeliveryFailed(self.to_string()),
        }
    }
}

/// The text of a code message (an SMS, the webhook's `message`): short
/// enough for one SMS segment.
pub(crate) fn code_text(message: &CodeMessage<'_>) -> String {
    let minutes = message.expires_at.since(message.at).as_secs().div_ceil(60);
    let what = match message.purpose {
        CodePurpose::ConfirmOrder(_) => "authorize your pizza order",
        CodePurpose::SignIn => "sign in to pod",
    };
    format!(
        "Your pod code is {code}. Say or type it to {what}. It expires in {minutes} minute{s}.",
        code = message.code.expose(),
        s = if minutes == 1 { "" } else { "s" },
    )
}

/// A way to get a code to its holder. [`crate::LocalCodes`] calls every
/// delivery that [`handles`](CodeDelivery::handles) the destination's channel.
#[async_trait]
pub trait CodeDelivery: Send + Sync + fmt::Debug {
    /// Whether this delivery sends codes on `channel`.
    fn handles(&self, channel: Channel) -> bool;

    /// Sends the code. Must not log the code, at any level.
    async fn deliver(&self, message: &CodeMessage<'_>) -> Result<(), DeliveryError>;
}

/// One line of `outbox.jsonl`.
///
/// The format, one JSON object per line:
///
/// ```json
/// {"at":"2025-01-02T03:04:05.678Z","to":"demo@example.com","channel":"email","code":"0421","customer":"local|demo","purpose":"order","order_id":"1b4e...","expires_at":"2025-01-02T03:09:05.678Z"}
/// ```
///
/// `at` and `expires_at` are RFC 3339 timestamps in UTC with milliseconds;
/// `channel` is `sms` or `email`; `purpose` is `order` or `sign_in`;
/// `order_id` is `null` for a sign-in code; `note` is present only for SMS
/// codes (there is no SMS gateway in the embedded mode, so the outbox is
/// the only place an SMS code goes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// When the code was issued (RFC 3339, UTC, milliseconds).
    pub at: String,
    /// The address: phone number or email address.
    pub to: String,
    /// `sms` or `email`.
    pub channel: String,
    /// The code.
    pub code: String,
    /// The customer id (`local|demo`).
    pub customer: String,
    /// `order` or `sign_in`.
    pub purpose: String,
    /// The order the code confirms; `null` for a sign-in code.
    pub order_id: Option<String>,
    /// When the code stops verifying (RFC 3339, UTC, milliseconds).
    pub expires_at: String,
    /// A remark for the reader, such as that no SMS gateway is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Why the outbox could not be read.
#[derive(Debug, thiserror::Error)]
#[error("outbox {path}: {source}")]
pub struct OutboxError {
    path: PathBuf,
    #[source]
    source: io::Error,
}

/// The note an SMS code carries in the outbox.
const NO_SMS_GATEWAY: &str = "no SMS gateway is configured; the code was only written here";

/// The embedded mode's development delivery: each code on a channel it
/// handles (all of them by default; see [`Outbox::without`]) is appended as
/// one JSON line ([`OutboxEntry`]) to `<data>/outbox.jsonl` (created with
/// mode 0600 on Unix), and noted at info level under the target
/// [`OUTBOX_TARGET`] (`pod::outbox`) with the address masked and without
/// the code: no log line ever carries a code.
///
/// # Why the code is written in clear here
///
/// The outbox *is* the delivery channel of the embedded development mode:
/// there is no phone or mailbox, so the developer reads the code with
/// `pod outbox`. It is the one place pod writes a code, and it is used only
/// for the channels no real delivery is configured for: with SMTP set up,
/// email codes go by mail and never to the outbox. This is acceptable only
/// because the embedded mode is a single-user, local development setup
/// where whoever can read the data folder is the account holder.
#[derive(Debug)]
pub struct Outbox {
    path: PathBuf,
    /// The file, opened on the first code and kept open: one `write` of a
    /// whole line per code, no thread hand-off (the outbox is no durable
    /// record, so there is no fsync either).
    file: std::sync::Mutex<Option<std::fs::File>>,
    /// The channels a real delivery handles instead (see [`Outbox::without`]).
    skipped: Vec<Channel>,
}

impl Outbox {
    /// The outbox file name inside the data folder.
    pub const FILE_NAME: &'static str = "outbox.jsonl";

    /// An outbox appending to `path` (usually `<data>/outbox.jsonl`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Outbox {
            path: path.into(),
            file: std::sync::Mutex::new(None),
            skipped: Vec::new(),
        }
    }

    /// This outbox without `channel`: for when a real delivery (SMTP for
    /// email) handles it, so that its codes are written nowhere.
    #[must_use]
    pub fn without(mut self, channel: Channel) -> Self {
        if !self.skipped.contains(&channel) {
            self.skipped.push(channel);
        }
        self
    }

    /// An outbox at `<data_dir>/outbox.jsonl`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self::new(data_dir.join(Self::FILE_NAME))
    }

    /// The file this outbox appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last `last` entries (all when `None`) of the outbox at `path`,
    /// oldest first, keeping only those for `who` when given: `who` matches
    /// an entry's address (`to`, ignoring ASCII case), its customer id, or
    /// the local user name `NAME` of customer `local|NAME`. A missing file
    /// reads as empty; lines that are not entries are skipped.
    pub fn read(
        path: &Path,
        who: Option<&str>,
        last: Option<usize>,
    ) -> Result<Vec<OutboxEntry>, OutboxError> {
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(OutboxError {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let limit = last.unwrap_or(usize::MAX);
        let mut kept = VecDeque::new();
        if limit == 0 {
            return Ok(Vec::new());
        }
        for line in io::BufReader::new(file).lines() {
            let line = line.map_err(|source| OutboxError {
                path: path.to_owned(),
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let Ok(entry) = serde_json::from_str::<OutboxEntry>(&line) else {
                warn!(path = %path.display(), "skipping an outbox line that is not an entry");
                continue;
            };
            if who.is_some_and(|who| !entry_is_for(&entry, who)) {
                continue;
            }
            if kept.len() == limit {
                kept.pop_front();
            }
            kept.push_back(entry);
        }
        Ok(kept.into())
    }

    fn open(&self) -> io::Result<std::fs::File> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&self.path)
    }

    fn append(&self, line: &str) -> io::Result<()> {
        use std::io::Write as _;
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        for attempt in 0..2 {
            let open = match file.as_mut() {
                Some(open) => open,
                None => file.insert(self.open()?),
            };
            // One write of the whole line on an O_APPEND file, so writers
            // (other processes too) never interleave within a line.
            match open.write_all(line.as_bytes()) {
                Ok(()) => return Ok(()),
                // The file may have been moved away or its disk remounted:
                // open it again once.
                Err(error) if attempt == 0 => {
                    warn!(%error, "outbox write failed; reopening the file");
                    *file = None;
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}

fn entry_is_for(entry: &OutboxEntry, who: &str) -> bool {
    entry.to.eq_ignore_ascii_case(who)
        || entry.customer == who
        || entry
            .customer
            .strip_prefix("local|")
            .is_some_and(|name| name == who)
}

#[async_trait]
impl CodeDelivery for Outbox {
    fn handles(&self, channel: Channel) -> bool {
        !self.skipped.contains(&channel)
    }

    async fn deliver(&self, message: &CodeMessage<'_>) -> Result<(), DeliveryError> {
        let channel = message.destination.channel();
        let entry = OutboxEntry {
            at: message.at.to_rfc3339(),
            to: message.destination.address().to_owned(),
            channel: channel.as_str().to_owned(),
            code: message.code.expose().to_owned(),
            customer: message.customer.as_str().to_owned(),
            purpose: message.purpose.kind().to_owned(),
            order_id: match message.purpose {
                CodePurpose::ConfirmOrder(id) => Some(id.as_str().to_owned()),
                CodePurpose::SignIn => None,
            },
            expires_at: message.expires_at.to_rfc3339(),
            note: (channel == Channel::Sms).then(|| NO_SMS_GATEWAY.to_owned()),
        };
        let mut line = serde_json::to_string(&entry)
            .map_err(|e| DeliveryError::Outbox(io::Error::other(e)))?;
        line.push('\n');
        self.append(&line).map_err(DeliveryError::Outbox)?;
        info!(
            target: OUTBOX_TARGET,
            to = %message.destination.masked(),
            channel = channel.as_str(),
            order_id = entry.order_id.as_deref().unwrap_or("-"),
            note = entry.note.as_deref().unwrap_or(""),
            "one-time code written to the outbox (read it with `pod outbox`)"
        );
        Ok(())
    }
}

/// How to reach the mail server (`POD_SMTP_URL`).
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// `smtp://user:pass@host:port` (plain, or `?tls=required` for
    /// STARTTLS) or `smtps://user:pass@host:port` (TLS), as
    /// `lettre`'s `AsyncSmtpTransport::from_url` reads it. Secret: it may
    /// hold a password.
    pub url: SecretString,
    /// The sender, `pod <pod@example.com>` or a bare address.
    pub from: String,
    /// Limit on the whole delivery of one code: connecting and every SMTP
    /// command together (a server that accepts and then stalls cannot hold
    /// a code, and its order, for longer).
    pub timeout: Duration,
}

impl SmtpConfig {
    /// A config with a 4-second timeout: the code is sent while Alexa
    /// waits (8 seconds for the whole answer), and an order whose code
    /// cannot be sent in time is cancelled, not left waiting.
    pub fn new(url: impl Into<String>, from: impl Into<String>) -> Self {
        SmtpConfig {
            url: SecretString::from(url.into()),
            from: from.into(),
            timeout: Duration::from_secs(4),
        }
    }
}

/// Why an [`SmtpConfig`] is unusable.
#[derive(Debug, thiserror::Error)]
pub enum SmtpConfigError {
    /// The URL is not an `smtp://` or `smtps://` URL lettre understands.
    /// The message never repeats the URL (it may hold a password).
    #[error("invalid SMTP URL: {0}")]
    Url(String),
    /// The sender is not an email address.
    #[error("invalid sender address: {0}")]
    From(String),
}

/// Delivers email codes through an SMTP server (`lettre`, tokio, rustls).
/// Handles the email channel only; one connection per code.
pub struct SmtpDelivery {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl fmt::Debug for SmtpDelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpDelivery")
            .field("from", &self.from.email.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpDelivery {
    /// A delivery for `config`; checks the URL and sender, connects only
    /// when a code is sent.
    pub fn new(config: &SmtpConfig) -> Result<Self, SmtpConfigError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(config.url.expose_secret())
            .map_err(|e| SmtpConfigError::Url(describe_url_error(&e)))?
            .timeout(Some(config.timeout))
            .build();
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|e| SmtpConfigError::From(e.to_string()))?;
        Ok(SmtpDelivery {
            transport,
            from,
            timeout: config.timeout,
        })
    }
}

fn describe_url_error(error: &lettre::transport::smtp::Error) -> String {
    // lettre's URL errors name the problem, not the URL; keep only the
    // first line to be safe.
    error.to_string().lines().next().unwrap_or("").to_owned()
}

#[async_trait]
impl CodeDelivery for SmtpDelivery {
    fn handles(&self, channel: Channel) -> bool {
        channel == Channel::Email
    }

    async fn deliver(&self, message: &CodeMessage<'_>) -> Result<(), DeliveryError> {
        let to = message
            .destination
            .address()
            .parse::<Mailbox>()
            .map_err(|e| DeliveryError::Message(format!("recipient: {e}")))?;
        let minutes = message.expires_at.since(message.at).as_secs().div_ceil(60);
        let what = match message.purpose {
            CodePurpose::ConfirmOrder(_) => "authorize your pizza order",
            CodePurpose::SignIn => "sign in to pod",
        };
        let body = format!(
            "Your pod code is {code}.\r\n\r\nSay or type it to {what}. It expires in {minutes} minute{s}.\r\n\r\nIf you did not ask for this code, ignore this email.\r\n",
            code = message.code.expose(),
            s = if minutes == 1 { "" } else { "s" },
        );
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject("Your pod code")
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| DeliveryError::Message(e.to_string()))?;
        tokio::time::timeout(self.timeout, self.transport.send(email))
            .await
            .map_err(|_| DeliveryError::Smtp("the mail server did not finish in time".to_owned()))?
            .map_err(|e| DeliveryError::Smtp(e.to_string()))?;
        info!(to = %message.destination.masked(), "one-time code emailed");
        Ok(())
    }
}
