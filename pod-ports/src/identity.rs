use async_trait::async_trait;
use pod_domain::{ContactPoints, CustomerId, Destination};

/// Why an access token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token is malformed, forged, expired, or for another audience or
    /// issuer. The reason is safe to log; it never contains the token.
    #[error("access token rejected: {0}")]
    Invalid(String),
    /// The token could not be checked because a dependency (a JWKS endpoint)
    /// did not answer.
    #[error("access tokens cannot be checked right now: {0}")]
    Unavailable(String),
}

/// Turns the access token that account linking gave Alexa into a customer.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait AccessTokens: Send + Sync {
    /// The customer the token was issued to (its `sub`).
    ///
    /// Errors: [`TokenError::Invalid`] for any token that does not verify
    /// (signature, algorithm, `exp`, `iss`, `aud`, missing `sub`);
    /// [`TokenError::Unavailable`] when verification needs a peer that failed.
    async fn customer_for_token(&self, token: &str) -> Result<CustomerId, TokenError>;
}

/// Why the directory could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// The identity provider does not know this customer.
    #[error("unknown customer")]
    UnknownCustomer,
    /// The identity provider failed, timed out or rate-limited us.
    #[error("customer directory unavailable: {0}")]
    Unavailable(String),
}

/// Where customers can be reached, and the passwordless identities codes
/// need.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait CustomerDirectory: Send + Sync {
    /// The customer's email and phone number, as the identity provider has them.
    ///
    /// Errors: [`DirectoryError::UnknownCustomer`] when the id is not known,
    /// [`DirectoryError::Unavailable`] when the provider failed.
    async fn contact_points(&self, customer: &CustomerId) -> Result<ContactPoints, DirectoryError>;

    /// Makes sure the customer has a passwordless identity for the
    /// destination's channel, so a code sent there can be verified as theirs.
    /// Succeeds without change when it exists already.
    async fn ensure_passwordless_identity(
        &self,
        customer: &CustomerId,
        destination: &Destination,
    ) -> Result<(), DirectoryError>;
}
