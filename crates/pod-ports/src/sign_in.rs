//! Signing in to the web app: pod's own passwordless codes, or an OpenID
//! Connect provider behind [`WebLogin`]; either way a sign-in lifts the voice
//! lock.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use pod_domain::{Channel, CodeCheck, ConfirmationPolicy, CustomerId, Destination};
use tracing::{info, instrument, warn};

use crate::{
    Clock, CodeError, CodePurpose, CustomerDirectory, DirectoryError, OneTimeCode, OneTimeCodes,
    OrderStore, ServiceError, UserStore,
};

/// The longest login name or email address looked up.
const MAX_LOGIN_LEN: usize = 254;

/// The start of a login at an OpenID Connect provider.
#[derive(Clone)]
pub struct LoginRedirect {
    /// Where to send the browser (the provider's authorization endpoint with
    /// every parameter).
    pub authorize_url: String,
    /// What the callback needs (state, nonce, PKCE verifier), serialized;
    /// keep it server-side, never in the browser.
    pub pending: String,
}

impl fmt::Debug for LoginRedirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRedirect").finish_non_exhaustive()
    }
}

/// Why a login at the provider did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The callback's `state` is not the one this login sent (forged or
    /// replayed), or the pending data is unreadable.
    #[error("login state mismatch")]
    StateMismatch,
    /// The provider refused the code, or its id token did not verify
    /// (signature, `iss`, `aud`, `exp`, `nonce`). Safe to log.
    #[error("login rejected: {0}")]
    Rejected(String),
    /// The provider failed or could not be reached.
    #[error("login provider unavailable: {0}")]
    Unavailable(String),
}

/// A web login at an OpenID Connect provider (authorization code with PKCE,
/// `state` and `nonce`).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait WebLogin: Send + Sync {
    /// Starts a login that returns to `redirect_uri`.
    ///
    /// Errors: [`LoginError::Unavailable`] when no randomness is available.
    fn begin_login(&self, redirect_uri: &str) -> Result<LoginRedirect, LoginError>;

    /// Completes a login from the callback's `state` and `code` with the
    /// `pending` data [`WebLogin::begin_login`] returned; the signed-in
    /// customer.
    ///
    /// Errors: [`LoginError::StateMismatch`] before any request is made when
    /// `state` does not match; [`LoginError::Rejected`] for a refused code or
    /// an id token that does not verify (wrong nonce included);
    /// [`LoginError::Unavailable`] when the provider failed.
    async fn complete_login(
        &self,
        pending: &str,
        state: &str,
        code: &str,
    ) -> Result<CustomerId, LoginError>;

    /// Where to send the browser to sign out at the provider too, coming
    /// back to `post_logout_redirect_uri`.
    fn logout_url(&self, post_logout_redirect_uri: &str) -> String;
}

/// The ports passwordless sign-in needs (the embedded mode).
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Passwordless {
    /// Finds the user a login name or email address belongs to.
    pub users: Arc<dyn UserStore>,
    /// Where the user's codes go.
    pub directory: Arc<dyn CustomerDirectory>,
    /// Sends and checks the codes.
    pub codes: Arc<dyn OneTimeCodes>,
    /// The time, for the send rate.
    pub clock: Arc<dyn Clock>,
}

/// What asking for a sign-in code did. A web page must answer all of them
/// alike, so that it does not tell whether a login exists.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartOutcome {
    /// A code is on its way to the customer.
    CodeSent {
        /// Whose code.
        customer: CustomerId,
        /// How it travels.
        channel: Channel,
    },
    /// No user has this name or email address; nothing was sent.
    UnknownLogin,
    /// Too many codes were sent to this customer in the last hour; nothing
    /// was sent (a code sent earlier may still be good).
    RateLimited {
        /// Whose codes.
        customer: CustomerId,
    },
    /// The customer has neither phone nor email; nothing was sent.
    NoContactPoint,
}

/// What entering a sign-in code did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeOutcome {
    /// The code was right: the customer is signed in.
    SignedIn {
        /// Who.
        customer: CustomerId,
        /// Whether voice ordering had been locked (it is unlocked now).
        unlocked: bool,
    },
    /// The code was wrong (or there is none); try again.
    WrongCode,
    /// The code's lifetime ran out; ask for a new one.
    Expired,
    /// The code was wrong too often; ask for a new one.
    TooManyAttempts,
}

/// Signs people in to the web app.
///
/// Passwordless sign-in uses the same code machinery and limits as voice
/// ordering: the same send rate per customer (codes for orders and for
/// sign-in count together), the same code lifetime and attempt limit (kept
/// by the [`OneTimeCodes`] adapter). Every successful sign-in, passwordless
/// or through a [`WebLogin`], ends the customer's run of wrong voice codes.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct SignInService {
    store: Arc<dyn OrderStore>,
    policy: ConfirmationPolicy,
    passwordless: Option<Passwordless>,
}

impl SignInService {
    /// A service that only records sign-ins made elsewhere (an OIDC
    /// provider): see [`SignInService::signed_in`].
    pub fn new(store: Arc<dyn OrderStore>, policy: ConfirmationPolicy) -> Self {
        SignInService {
            store,
            policy,
            passwordless: None,
        }
    }

    /// Adds passwordless sign-in with pod's codes.
    pub fn with_passwordless(mut self, passwordless: Passwordless) -> Self {
        self.passwordless = Some(passwordless);
        self
    }

    /// Whether passwordless sign-in is available.
    pub fn has_passwordless(&self) -> bool {
        self.passwordless.is_some()
    }

    fn passwordless(&self) -> Result<&Passwordless, ServiceError> {
        self.passwordless.as_ref().ok_or_else(|| {
            ServiceError::IdentityUnavailable("passwordless sign-in is not configured".into())
        })
    }

    /// Sends a sign-in code to the user whose name or email address is
    /// `login`, if there is one and the send rate allows.
    ///
    /// Errors: [`ServiceError::IdentityUnavailable`] without passwordless
    /// sign-in or when the directory or code provider failed,
    /// [`ServiceError::CodeDelivery`] when the code could not be delivered.
    #[instrument(skip_all)]
    pub async fn start(&self, login: &str) -> Result<StartOutcome, ServiceError> {
        let ports = self.passwordless()?;
        let login = login.trim();
        if login.is_empty() || login.len() > MAX_LOGIN_LEN || login.chars().any(char::is_control) {
            return Ok(StartOutcome::UnknownLogin);
        }
        let Some(user) = ports.users.user_by_login(login).await? else {
            return Ok(StartOutcome::UnknownLogin);
        };
        let customer = user.id;
        let now = ports.clock.now();
        let sent = self
            .store
            .codes_sent_since(&customer, now.minus(ConfirmationPolicy::SEND_WINDOW))
            .await?;
        if !self.policy.may_send_code(sent) {
            info!(%customer, "sign-in code not sent: send rate reached");
            return Ok(StartOutcome::RateLimited { customer });
        }
        let Some(destination) = self.destination(ports, &customer).await? else {
            return Ok(StartOutcome::NoContactPoint);
        };
        self.store.record_code_sent(&customer, now).await?;
        match ports
            .codes
            .send_code(&customer, &destination, &CodePurpose::SignIn)
            .await
        {
            Ok(()) => {
                info!(%customer, channel = destination.channel().as_str(), "sign-in code sent");
                Ok(StartOutcome::CodeSent {
                    customer,
                    channel: destination.channel(),
                })
            }
            Err(CodeError::RateLimited) => Ok(StartOutcome::RateLimited { customer }),
            Err(CodeError::DeliveryFailed(reason)) => Err(ServiceError::CodeDelivery(reason)),
            Err(CodeError::Unavailable(reason)) => Err(ServiceError::IdentityUnavailable(reason)),
        }
    }

    async fn destination(
        &self,
        ports: &Passwordless,
        customer: &CustomerId,
    ) -> Result<Option<Destination>, ServiceError> {
        match ports.directory.contact_points(customer).await {
            Ok(contacts) => Ok(contacts.preferred_destination()),
            Err(DirectoryError::UnknownCustomer) => Ok(None),
            Err(DirectoryError::Unavailable(reason)) => {
                Err(ServiceError::IdentityUnavailable(reason))
            }
        }
    }

    /// Checks a sign-in code `customer` entered; on success lifts the voice
    /// lock and says whether there was one.
    ///
    /// Errors: as [`SignInService::start`], and [`ServiceError::Storage`].
    #[instrument(skip(self, code), fields(customer = %customer))]
    pub async fn verify(
        &self,
        customer: &CustomerId,
        code: &OneTimeCode,
    ) -> Result<CodeOutcome, ServiceError> {
        let ports = self.passwordless()?;
        let Some(destination) = self.destination(ports, customer).await? else {
            return Ok(CodeOutcome::WrongCode);
        };
        let check = match ports
            .codes
            .verify_code(customer, &destination, &CodePurpose::SignIn, code)
            .await
        {
            Ok(check) => check,
            Err(CodeError::RateLimited) => CodeCheck::Locked,
            Err(error) => return Err(ServiceError::IdentityUnavailable(error.to_string())),
        };
        Ok(match check {
            CodeCheck::Valid => CodeOutcome::SignedIn {
                customer: customer.clone(),
                unlocked: self.signed_in(customer).await?,
            },
            CodeCheck::Invalid => CodeOutcome::WrongCode,
            CodeCheck::Expired => CodeOutcome::Expired,
            CodeCheck::Locked => {
                warn!("sign-in code locked after too many wrong attempts");
                CodeOutcome::TooManyAttempts
            }
        })
    }

    /// Records that `customer` signed in (by any means): ends their run of
    /// wrong voice codes. `true` when voice ordering was locked.
    pub async fn signed_in(&self, customer: &CustomerId) -> Result<bool, ServiceError> {
        let lockout = self.store.lockout(customer).await?;
        let was_locked = lockout.is_locked(&self.policy);
        if lockout.consecutive_failures() > 0 {
            self.store.clear_lockout(customer).await?;
        }
        if was_locked {
            info!(%customer, "voice ordering unlocked by a sign-in");
        }
        Ok(was_locked)
    }
}

#[cfg(test)]
mod tests;
