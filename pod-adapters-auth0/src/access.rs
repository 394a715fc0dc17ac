//! [`Auth0AccessTokens`]: the access tokens account linking gave Alexa.

use std::sync::Arc;

use async_trait::async_trait;
use pod_domain::CustomerId;
use pod_ports::{AccessTokens, TokenError};
use serde::Deserialize;

use crate::jwt::{Verifier, VerifyError};

#[derive(Deserialize)]
struct AccessClaims {
    sub: String,
}

/// Validates Auth0 access tokens for the configured API: the configured
/// algorithm only (HS256 with the API signing secret, or RS256 with the
/// tenant's JWKS), `exp`, `iss` (the tenant or the custom domain), `aud`
/// (the API id, alone or in an array) and `sub` required.
pub struct Auth0AccessTokens {
    verifier: Arc<Verifier>,
}

impl std::fmt::Debug for Auth0AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth0AccessTokens")
            .field("verifier", &self.verifier)
            .finish()
    }
}

impl Auth0AccessTokens {
    pub(crate) fn new(verifier: Arc<Verifier>) -> Self {
        Auth0AccessTokens { verifier }
    }
}

#[async_trait]
impl AccessTokens for Auth0AccessTokens {
    async fn customer_for_token(&self, token: &str) -> Result<CustomerId, TokenError> {
        let claims: AccessClaims = self.verifier.verify(token).await.map_err(|e| match e {
            VerifyError::Invalid(reason) => TokenError::Invalid(reason),
            VerifyError::Unavailable(reason) => TokenError::Unavailable(reason),
        })?;
        CustomerId::parse(claims.sub).map_err(|_| TokenError::Invalid("unusable sub".into()))
    }
}
