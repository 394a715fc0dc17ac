//! [`Auth0Oidc`] as the web app's [`WebLogin`] port.

use async_trait::async_trait;
use pod_domain::CustomerId;
use pod_ports::{LoginError, LoginRedirect, WebLogin};

use crate::oidc::{Auth0Oidc, OidcError, PendingLogin};

fn login_error(error: OidcError) -> LoginError {
    match error {
        OidcError::StateMismatch => LoginError::StateMismatch,
        OidcError::Refused(reason) | OidcError::InvalidIdToken(reason) => {
            LoginError::Rejected(reason)
        }
        OidcError::Random => LoginError::Unavailable("no randomness available".into()),
        other => LoginError::Unavailable(other.to_string()),
    }
}

/// The pending login travels as JSON in the web app's server-side session;
/// the id token hint is not kept, so logout names the client instead.
#[async_trait]
impl WebLogin for Auth0Oidc {
    fn begin_login(&self, redirect_uri: &str) -> Result<LoginRedirect, LoginError> {
        let start = Auth0Oidc::begin_login(self, redirect_uri).map_err(login_error)?;
        let pending = serde_json::to_string(&start.pending)
            .map_err(|_| LoginError::Unavailable("cannot keep the pending login".into()))?;
        Ok(LoginRedirect {
            authorize_url: start.authorize_url.to_string(),
            pending,
        })
    }

    async fn complete_login(
        &self,
        pending: &str,
        state: &str,
        code: &str,
    ) -> Result<CustomerId, LoginError> {
        let pending: PendingLogin =
            serde_json::from_str(pending).map_err(|_| LoginError::StateMismatch)?;
        Auth0Oidc::complete_login(self, &pending, state, code)
            .await
            .map(|login| login.customer)
            .map_err(login_error)
    }

    fn logout_url(&self, post_logout_redirect_uri: &str) -> String {
        Auth0Oidc::logout_url(self, post_logout_redirect_uri, None).to_string()
    }
}
