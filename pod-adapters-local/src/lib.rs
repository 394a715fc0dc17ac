//! pod's embedded identity and code delivery: nothing to sign up for.
//!
//! - [`LocalUsers`] and [`LocalDirectory`]: users (name, email, optional
//!   phone) kept through a [`pod_ports::UserStore`], ids `local|<name>`.
//! - [`LocalTokenKey`] and [`LocalAccessTokens`]: HS256 JWTs with issuer
//!   [`LOCAL_ISSUER`], signed with a key file created on first start.
//! - [`LocalCodes`]: one-time codes drawn by [`OsCodeGenerator`], kept by
//!   the account only as keyed digests (single use, expiry and attempts are
//!   the account's rules), sent through [`CodeDelivery`]s: the [`Outbox`]
//!   (a log line and `<data>/outbox.jsonl`, the development delivery) and,
//!   when configured, [`SmtpDelivery`] (email), [`TwilioDelivery`] (SMS)
//!   and [`WebhookDelivery`] (a signed POST to the operator's service).
//! - [`SystemClock`] and [`UuidOrderIds`]: the real clock and order ids.
//!
//! Adapters here take small config structs and never read the environment;
//! `pod-server` does that and wires them together. They log with `tracing`
//! and never log a code, except the [`Outbox`], whose log line is a
//! delivery channel of the embedded development mode.

mod codes;
mod delivery;
mod secrets;
mod system;
mod tokens;
mod users;

pub use codes::{CodeHashKey, LocalCodes, LocalCodesConfig, LocalCodesConfigError};
pub use delivery::{
    CodeDelivery, CodeMessage, DeliveryBudget, DeliveryError, OUTBOX_TARGET, Outbox, OutboxEntry,
    OutboxError, SmtpConfig, SmtpConfigError, SmtpDelivery, TWILIO_API, TwilioConfig,
    TwilioConfigError, TwilioCredentials, TwilioDelivery, TwilioSender, WEBHOOK_DELIVERY_ID_HEADER,
    WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER, WebhookConfig, WebhookConfigError,
    WebhookDelivery, WebhookPayload, webhook_signature,
};
pub use secrets::OsSecrets;
pub use system::{OsCodeGenerator, SystemClock, UuidOrderIds};
pub use tokens::{
    DEFAULT_AUDIENCE, GrantCheckedTokens, KeyError, LOCAL_ISSUER, LocalAccessTokens,
    LocalTokenConfig, LocalTokenKey,
};
pub use users::{
    LOCAL_ID_PREFIX, LocalDirectory, LocalUsers, UserError, local_customer_id, normalize_phone,
    validate_email, validate_name,
};
