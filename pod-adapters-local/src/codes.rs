//! One-time codes made and checked by pod itself, kept only as keyed hashes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lc_rs::{constant_time, hmac};
use pod_domain::{CodeCheck, CodeDigest, ConfirmationPolicy, CustomerId, Destination};
use pod_ports::{Clock, CodeError, CodeGenerator, CodePurpose, NewCode, OneTimeCode, OneTimeCodes};
use tracing::{debug, warn};

use crate::delivery::{CodeDelivery, CodeMessage};

/// The secret key one-time codes are hashed under (HMAC-SHA256).
///
/// Without it, a copy of the database does not reveal codes even though a
/// 4-digit code has only 10 000 possible values. Get one from
/// [`crate::LocalTokenKey::derive_code_hash_key`] or [`CodeHashKey::new`].
/// `Debug` never shows it.
#[derive(Clone)]
pub struct CodeHashKey(hmac::Key);

impl CodeHashKey {
    /// A key from secret bytes (use at least 32).
    pub fn new(secret: &[u8]) -> Self {
        CodeHashKey(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// HMAC-SHA256 over the customer, the full purpose (kind and order id)
    /// and the code, each length-prefixed so no two inputs collide.
    fn hash(&self, customer: &CustomerId, purpose: &CodePurpose, code: &OneTimeCode) -> CodeDigest {
        let order = match purpose {
            CodePurpose::ConfirmOrder(id) => id.as_str(),
            CodePurpose::SignIn => "",
        };
        let mut ctx = hmac::Context::with_key(&self.0);
        for part in [
            "pod-code-v1",
            customer.as_str(),
            purpose.kind(),
            order,
            code.expose(),
        ] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        CodeDigest::new(ctx.sign().as_ref().to_vec())
    }
}

impl fmt::Debug for CodeHashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeHashKey(****)")
    }
}

/// The settings of [`LocalCodes`].
#[derive(Debug, Clone)]
pub struct LocalCodesConfig {
    /// Digits in a code, 4 to 8.
    pub code_digits: u32,
    /// The key codes are hashed under.
    pub hash_key: CodeHashKey,
}

impl LocalCodesConfig {
    /// Digits from the confirmation policy (which has validated them).
    pub fn from_policy(policy: &ConfirmationPolicy, hash_key: CodeHashKey) -> Self {
        LocalCodesConfig {
            code_digits: policy.code_digits(),
            hash_key,
        }
    }
}

/// A [`LocalCodesConfig`] value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid one-time code settings: {0}")]
pub struct LocalCodesConfigError(&'static str);

/// [`OneTimeCodes`] of the embedded mode: pod draws the code, the account
/// keeps only its keyed digest (with expiry and attempts, decided by the
/// domain), and the code goes to every [`CodeDelivery`] for its channel.
///
/// This adapter keeps no state: comparing is a keyed hash and a
/// constant-time comparison with the digest the account kept, so a check
/// costs no store round trip, and single use, expiry and attempt limits are
/// all decided in the account's one atomic step. Codes are never logged
/// here (only the outbox writes them).
pub struct LocalCodes {
    generator: Arc<dyn CodeGenerator>,
    clock: Arc<dyn Clock>,
    lifetime: Duration,
    deliveries: Vec<Arc<dyn CodeDelivery>>,
    config: LocalCodesConfig,
}

impl fmt::Debug for LocalCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCodes")
            .field("deliveries", &self.deliveries)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LocalCodes {
    /// Codes drawn by `generator` and sent through every delivery in
    /// `deliveries` that handles the destination's channel (in order; all
    /// must succeed). `clock` and `lifetime` only date the message
    /// ("valid until"); the account decides expiry.
    ///
    /// Errors when the digits are not 4 to 8.
    pub fn new(
        generator: Arc<dyn CodeGenerator>,
        clock: Arc<dyn Clock>,
        lifetime: Duration,
        deliveries: Vec<Arc<dyn CodeDelivery>>,
        config: LocalCodesConfig,
    ) -> Result<Self, LocalCodesConfigError> {
        if !(4..=8).contains(&config.code_digits) {
            return Err(LocalCodesConfigError("code digits must be 4 to 8"));
        }
        Ok(LocalCodes {
            generator,
            clock,
            lifetime,
            deliveries,
            config,
        })
    }
}

#[async_trait]
impl OneTimeCodes for LocalCodes {
    fn issue(&self, customer: &CustomerId, purpose: &CodePurpose) -> NewCode {
        let code = self.generator.generate(self.config.code_digits);
        NewCode {
            digest: Some(self.config.hash_key.hash(customer, purpose, &code)),
            code: Some(code),
        }
    }

    async fn deliver(
        &self,
        customer: &CustomerId,
        destination: &Destination,
        purpose: &CodePurpose,
        code: &NewCode,
    ) -> Result<(), CodeError> {
        let channel = destination.channel();
        let Some(code) = &code.code else {
            return Err(CodeError::DeliveryFailed(
                "no code was drawn for this delivery".to_owned(),
            ));
        };
        let deliveries: Vec<&Arc<dyn CodeDelivery>> = self
            .deliveries
            .iter()
            .filter(|d| d.handles(channel))
            .collect();
        if deliveries.is_empty() {
            return Err(CodeError::DeliveryFailed(format!(
                "no delivery is configured for {}",
                channel.as_str()
            )));
        }
        let now = self.clock.now();
        let message = CodeMessage {
            customer,
            destination,
            purpose,
            code,
            at: now,
            expires_at: now.plus(self.lifetime),
        };
        for delivery in deliveries {
            if let Err(error) = delivery.deliver(&message).await {
                warn!(%customer, channel = channel.as_str(), %error, "one-time code not delivered");
                return Err(error.to_code_error());
            }
        }
        debug!(%customer, channel = channel.as_str(), kind = purpose.kind(), "one-time code sent");
        Ok(())
    }

    async fn check(
        &self,
        customer: &CustomerId,
        _destination: &Destination,
        purpose: &CodePurpose,
        digest: Option<CodeDigest>,
        spoken: &OneTimeCode,
    ) -> Result<CodeCheck, CodeError> {
        let Some(digest) = digest else {
            return Ok(CodeCheck::Invalid);
        };
        let attempt = self.config.hash_key.hash(customer, purpose, spoken);
        Ok(
            if constant_time::verify_slices_are_equal(attempt.as_bytes(), digest.as_bytes()).is_ok()
            {
                CodeCheck::Valid
            } else {
                CodeCheck::Invalid
            },
        )
    }
}
