//! One-time codes made and checked by pod itself, kept only as keyed hashes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lc_rs::{constant_time, hmac};
use pod_domain::{CodeCheck, ConfirmationPolicy, CustomerId, Destination, Timestamp};
use pod_ports::{
    Clock, CodeError, CodeGenerator, CodePurpose, CodeRecord, CodeStore, OneTimeCode, OneTimeCodes,
    StoreError,
};
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
    fn hash(&self, customer: &CustomerId, purpose: &CodePurpose, code: &OneTimeCode) -> Vec<u8> {
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
        ctx.sign().as_ref().to_vec()
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
    /// How long a code verifies after it was sent (at least 1 second).
    pub code_lifetime: Duration,
    /// Wrong attempts a code takes; the attempt that reaches this number
    /// answers [`CodeCheck::Locked`] and so does every later one (at least 1).
    pub max_failed_attempts: u32,
    /// The key codes are hashed under.
    pub hash_key: CodeHashKey,
}

impl LocalCodesConfig {
    /// Digits, lifetime and attempt limit from the confirmation policy
    /// (which has validated them).
    pub fn from_policy(policy: &ConfirmationPolicy, hash_key: CodeHashKey) -> Self {
        LocalCodesConfig {
            code_digits: policy.code_digits(),
            code_lifetime: policy.code_lifetime(),
            max_failed_attempts: policy.max_failed_attempts(),
            hash_key,
        }
    }
}

/// A [`LocalCodesConfig`] value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid one-time code settings: {0}")]
pub struct LocalCodesConfigError(&'static str);

/// [`OneTimeCodes`] of the embedded mode: pod draws the code, keeps only
/// its keyed hash with expiry and attempt count in a [`CodeStore`], and
/// hands the code to its [`CodeDelivery`]s.
///
/// Codes are single use, expire after the configured lifetime, and lock
/// after the configured number of wrong attempts. Comparison is constant
/// time. Codes are never logged here (only the outbox writes them).
pub struct LocalCodes {
    store: Arc<dyn CodeStore>,
    generator: Arc<dyn CodeGenerator>,
    clock: Arc<dyn Clock>,
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
    /// Codes kept in `store`, drawn by `generator`, timed by `clock`, and
    /// sent through every delivery in `deliveries` that handles the
    /// destination's channel (in order; all must succeed).
    ///
    /// Errors when the digits are not 4 to 8, the lifetime is zero, or the
    /// attempt limit is zero.
    pub fn new(
        store: Arc<dyn CodeStore>,
        generator: Arc<dyn CodeGenerator>,
        clock: Arc<dyn Clock>,
        deliveries: Vec<Arc<dyn CodeDelivery>>,
        config: LocalCodesConfig,
    ) -> Result<Self, LocalCodesConfigError> {
        if !(4..=8).contains(&config.code_digits) {
            return Err(LocalCodesConfigError("code_digits must be 4 to 8"));
        }
        if config.code_lifetime < Duration::from_secs(1) {
            return Err(LocalCodesConfigError(
                "code_lifetime must be at least 1 second",
            ));
        }
        if config.max_failed_attempts == 0 {
            return Err(LocalCodesConfigError(
                "max_failed_attempts must be at least 1",
            ));
        }
        Ok(LocalCodes {
            store,
            generator,
            clock,
            deliveries,
            config,
        })
    }

    async fn forget(&self, customer: &CustomerId, kind: &str) {
        if let Err(error) = self.store.delete_code(customer, kind).await {
            warn!(%customer, kind, %error, "could not delete a one-time code");
        }
    }
}

fn unavailable(error: StoreError) -> CodeError {
    CodeError::Unavailable(format!("code store: {error}"))
}

#[async_trait]
impl OneTimeCodes for LocalCodes {
    async fn send_code(
        &self,
        customer: &CustomerId,
        destination: &Destination,
        purpose: &CodePurpose,
    ) -> Result<(), CodeError> {
        let channel = destination.channel();
        let deliveries: Vec<_> = self
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
        let code = self.generator.generate(self.config.code_digits);
        let now = self.clock.now();
        let expires_at = now.plus(self.config.code_lifetime);
        let record = CodeRecord {
            customer: customer.clone(),
            purpose: purpose.kind().to_owned(),
            hash: self.config.hash_key.hash(customer, purpose, &code),
            issued_at: now,
            expires_at,
            failed_attempts: 0,
        };
        self.store.put_code(&record).await.map_err(unavailable)?;
        let message = CodeMessage {
            customer,
            destination,
            purpose,
            code: &code,
            at: now,
            expires_at,
        };
        for delivery in deliveries {
            if let Err(error) = delivery.deliver(&message).await {
                warn!(%customer, channel = channel.as_str(), %error, "one-time code not delivered");
                // A code that did not reach its holder must not verify.
                self.forget(customer, purpose.kind()).await;
                return Err(CodeError::DeliveryFailed(error.to_string()));
            }
        }
        debug!(%customer, channel = channel.as_str(), kind = purpose.kind(), "one-time code sent");
        Ok(())
    }

    async fn verify_code(
        &self,
        customer: &CustomerId,
        _destination: &Destination,
        purpose: &CodePurpose,
        code: &OneTimeCode,
    ) -> Result<CodeCheck, CodeError> {
        let kind = purpose.kind();
        let Some(record) = self
            .store
            .code_for(customer, kind)
            .await
            .map_err(unavailable)?
        else {
            return Ok(CodeCheck::Invalid);
        };
        let now: Timestamp = self.clock.now();
        if now >= record.expires_at {
            self.forget(customer, kind).await;
            return Ok(CodeCheck::Expired);
        }
        let limit = self.config.max_failed_attempts;
        if record.failed_attempts >= limit {
            return Ok(CodeCheck::Locked);
        }
        let attempt = self.config.hash_key.hash(customer, purpose, code);
        if constant_time::verify_slices_are_equal(&attempt, &record.hash).is_ok() {
            // Single use, even against a concurrent check of the same code:
            // only the check that deletes the record gets `Valid`.
            let consumed = self
                .store
                .consume_code(customer, kind, &record.hash)
                .await
                .map_err(unavailable)?;
            return Ok(if consumed {
                CodeCheck::Valid
            } else {
                CodeCheck::Invalid
            });
        }
        let failures = self
            .store
            .record_code_failure(customer, kind)
            .await
            .map_err(unavailable)?;
        match failures {
            Some(n) if n >= limit => Ok(CodeCheck::Locked),
            _ => Ok(CodeCheck::Invalid),
        }
    }
}
