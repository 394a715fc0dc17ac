//! Signing in to the web app: pod's own passwordless codes, or an OpenID
//! Connect provider behind [`WebLogin`]; either way a sign-in lifts the voice
//! lock.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use pod_domain::{
    Channel, CodeCheck, ConfirmationPolicy, CustomerId, Destination, SendRefusal, SignInResult,
    SignInStep,
};
use tracing::{info, instrument, warn};

use crate::service::{MAX_COMMIT_ATTEMPTS, commit_account};
use crate::{
    AccountStore, Clock, CodeError, CodePurpose, CustomerDirectory, DirectoryError, OneTimeCode,
    OneTimeCodes, ServiceError, StoreError, UserStore,
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
    /// Draws, sends and compares the codes.
    pub codes: Arc<dyn OneTimeCodes>,
}

/// What asking for a sign-in code did.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Too many sign-in codes were sent to this customer in the last hour;
    /// nothing was sent (a code sent earlier may still be good).
    RateLimited {
        /// Whose codes.
        customer: CustomerId,
    },
    /// The account is locked after too many wrong codes; nothing was sent.
    Locked {
        /// Whose account.
        customer: CustomerId,
    },
    /// Too many sign-in codes were asked for from this client address in
    /// the last hour; nothing was looked up or sent.
    ClientRateLimited,
    /// The customer has neither phone nor email; nothing was sent.
    NoContactPoint,
}

/// What entering a sign-in code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeOutcome {
    /// The code was right: the customer is signed in.
    SignedIn {
        /// Who.
        customer: CustomerId,
        /// Whether the account's run of wrong codes had reached the lock
        /// limit (it is cleared now).
        unlocked: bool,
    },
    /// The code was wrong (or there is none); try again.
    WrongCode,
    /// The code's lifetime ran out; ask for a new one.
    Expired,
    /// The code was wrong too often; ask for a new one.
    TooManyAttempts,
    /// The account is locked after too many wrong codes; nothing was compared.
    Locked,
}

/// Signs people in to the web app.
///
/// Passwordless sign-in is governed by the same [`Account`](pod_domain::Account) as voice
/// ordering: sign-in codes have their own send budget (so nobody can spend
/// a person's order codes from the sign-in page), every wrong sign-in code
/// counts toward the account lock, and a locked account gets no code and no
/// comparison. Sign-in starts are also limited per client address (a
/// pseudo-account `client|<address>` in the same store, so the limit holds
/// across servers). A
/// sign-in through a [`WebLogin`] (another factor) lifts the lock.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct SignInService {
    store: Arc<dyn AccountStore>,
    clock: Arc<dyn Clock>,
    policy: ConfirmationPolicy,
    passwordless: Option<Passwordless>,
}

impl SignInService {
    /// A service that only records sign-ins made elsewhere (an OIDC
    /// provider): see [`SignInService::signed_in`].
    pub fn new(
        store: Arc<dyn AccountStore>,
        clock: Arc<dyn Clock>,
        policy: ConfirmationPolicy,
    ) -> Self {
        SignInService {
            store,
            clock,
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
    /// `login`, if there is one, the account is not locked, and both the
    /// account's sign-in budget and the budget of `client` (the caller's
    /// address) allow.
    ///
    /// Errors: [`ServiceError::IdentityUnavailable`] without passwordless
    /// sign-in or when the directory or code provider failed,
    /// [`ServiceError::CodeDelivery`] when the code could not be delivered.
    #[instrument(skip_all)]
    pub async fn start(
        &self,
        login: &str,
        client: Option<IpAddr>,
    ) -> Result<StartOutcome, ServiceError> {
        let ports = self.passwordless()?;
        let login = login.trim();
        if login.is_empty() || login.len() > MAX_LOGIN_LEN || login.chars().any(char::is_control) {
            return Ok(StartOutcome::UnknownLogin);
        }
        if let Some(client) = client
            && !self.spend_client_start(client).await?
        {
            info!(%client, "sign-in code not sent: client address budget spent");
            return Ok(StartOutcome::ClientRateLimited);
        }
        let Some(user) = ports.users.user_by_login(login).await? else {
            return Ok(StartOutcome::UnknownLogin);
        };
        let customer = user.id;
        let account = self.store.load_account(&customer).await?;
        match account.may_send_sign_in_code(self.clock.now(), &self.policy) {
            Ok(()) => {}
            Err(SendRefusal::Locked) => return Ok(StartOutcome::Locked { customer }),
            Err(SendRefusal::RateLimited) => {
                info!(%customer, "sign-in code not sent: send budget spent");
                return Ok(StartOutcome::RateLimited { customer });
            }
        }
        let Some(destination) = self.destination(ports, &customer).await? else {
            return Ok(StartOutcome::NoContactPoint);
        };
        let code = ports.codes.issue(&customer, &CodePurpose::SignIn);
        let (started, account, _) = commit_account(
            self.store.as_ref(),
            self.clock.as_ref(),
            &customer,
            account,
            |account, now| match account.start_sign_in(code.digest.clone(), now, &self.policy) {
                Ok(change) => (Some(change), Ok(now)),
                Err(refusal) => (None, Err(refusal)),
            },
        )
        .await?;
        let issued_at = match started {
            Ok(issued_at) => issued_at,
            Err(SendRefusal::Locked) => return Ok(StartOutcome::Locked { customer }),
            Err(SendRefusal::RateLimited) => return Ok(StartOutcome::RateLimited { customer }),
        };
        match ports
            .codes
            .deliver(&customer, &destination, &CodePurpose::SignIn, &code)
            .await
        {
            Ok(()) => {
                info!(%customer, channel = destination.channel().as_str(), "sign-in code sent");
                Ok(StartOutcome::CodeSent {
                    customer,
                    channel: destination.channel(),
                })
            }
            Err(error) => {
                warn!(%customer, %error, "sign-in code not delivered");
                commit_account(
                    self.store.as_ref(),
                    self.clock.as_ref(),
                    &customer,
                    account,
                    |account, _| (account.sign_in_not_delivered(issued_at), ()),
                )
                .await?;
                match error {
                    CodeError::RateLimited => Ok(StartOutcome::RateLimited { customer }),
                    CodeError::DeliveryFailed(reason) => Err(ServiceError::CodeDelivery(reason)),
                    CodeError::Unavailable(reason) => {
                        Err(ServiceError::IdentityUnavailable(reason))
                    }
                }
            }
        }
    }

    /// Spends one start from `client`'s budget, in one version-checked
    /// step on the store like every other budget; `false` when it is spent.
    async fn spend_client_start(&self, client: IpAddr) -> Result<bool, ServiceError> {
        let Ok(key) = CustomerId::parse(format!("client|{client}")) else {
            return Ok(true);
        };
        let account = self.store.load_account(&key).await?;
        let (spent, _, _) = commit_account(
            self.store.as_ref(),
            self.clock.as_ref(),
            &key,
            account,
            |account, now| match account.spend_client_start(now, MAX_STARTS_PER_CLIENT_PER_HOUR) {
                Ok(change) => (Some(change), true),
                Err(_) => (None, false),
            },
        )
        .await?;
        Ok(spent)
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

    /// Checks a sign-in code `customer` entered, in one version-checked
    /// step with the account: a wrong code counts against the code and the
    /// account lock; a right one signs in and ends the run of failures.
    ///
    /// Errors: as [`SignInService::start`], and [`ServiceError::Storage`].
    #[instrument(skip(self, code), fields(customer = %customer))]
    pub async fn verify(
        &self,
        customer: &CustomerId,
        code: &OneTimeCode,
    ) -> Result<CodeOutcome, ServiceError> {
        let ports = self.passwordless()?;
        for _ in 0..MAX_COMMIT_ATTEMPTS {
            let account = self.store.load_account(customer).await?;
            let issued = match account.sign_in_step(self.clock.now(), &self.policy) {
                SignInStep::Settled { change, result } => {
                    if let Some(change) = change {
                        match self.store.commit(&change).await {
                            Ok(()) => {}
                            Err(StoreError::Conflict) => continue,
                            Err(other) => return Err(other.into()),
                        }
                    }
                    return Ok(self.outcome(customer, result));
                }
                SignInStep::Compare { code } => code,
            };
            let Some(destination) = self.destination(ports, customer).await? else {
                return Ok(CodeOutcome::WrongCode);
            };
            let check = match ports
                .codes
                .check(
                    customer,
                    &destination,
                    &CodePurpose::SignIn,
                    issued.digest.clone(),
                    code,
                )
                .await
            {
                Ok(check) => check,
                Err(CodeError::RateLimited) => CodeCheck::Locked,
                Err(error) => return Err(ServiceError::IdentityUnavailable(error.to_string())),
            };
            let (result, _, _) = commit_account(
                self.store.as_ref(),
                self.clock.as_ref(),
                customer,
                account,
                |account, now| match account.apply_sign_in_check(
                    issued.issued_at,
                    check,
                    now,
                    &self.policy,
                ) {
                    Some((change, result)) => (change, Some(result)),
                    None => (None, None),
                },
            )
            .await?;
            match result {
                Some(result) => return Ok(self.outcome(customer, result)),
                // A new code replaced the one compared: compare again.
                None => continue,
            }
        }
        Err(StoreError::Conflict.into())
    }

    fn outcome(&self, customer: &CustomerId, result: SignInResult) -> CodeOutcome {
        match result {
            SignInResult::SignedIn { unlocked } => {
                if unlocked {
                    info!(%customer, "account unlocked by a sign-in");
                }
                CodeOutcome::SignedIn {
                    customer: customer.clone(),
                    unlocked,
                }
            }
            SignInResult::WrongCode => CodeOutcome::WrongCode,
            SignInResult::Expired => CodeOutcome::Expired,
            SignInResult::TooManyAttempts => CodeOutcome::TooManyAttempts,
            SignInResult::Locked => {
                warn!(%customer, "account locked after too many wrong codes");
                CodeOutcome::Locked
            }
        }
    }

    /// Records that `customer` signed in with another factor (an OpenID
    /// Connect login): ends their run of wrong codes and lifts the lock.
    /// `true` when the run had reached the lock limit.
    pub async fn signed_in(&self, customer: &CustomerId) -> Result<bool, ServiceError> {
        let account = self.store.load_account(customer).await?;
        let (was_locked, _, _) = commit_account(
            self.store.as_ref(),
            self.clock.as_ref(),
            customer,
            account,
            |account, _| {
                let was_locked =
                    account.lockout().consecutive_failures >= self.policy.lockout_after();
                (account.unlock(), was_locked)
            },
        )
        .await?;
        if was_locked {
            info!(%customer, "account unlocked by a sign-in");
        }
        Ok(was_locked)
    }
}

/// Sign-in starts allowed per client address per rolling hour.
const MAX_STARTS_PER_CLIENT_PER_HOUR: u32 = 20;

#[cfg(test)]
mod tests;
