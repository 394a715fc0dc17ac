//! Wiring of the Auth0 adapters from the original sample's settings.

use std::sync::Arc;

use anyhow::{Context, bail};
use pod_adapters_auth0::{Auth0Adapters, Auth0Config, Auth0Oidc, TokenAlgorithm};
use pod_ports::{AccessTokens, Clock, CustomerDirectory, OneTimeCodes};

use crate::settings::Auth0Settings;

/// The identity ports backed by Auth0.
#[allow(missing_debug_implementations)]
pub struct Auth0Identity {
    /// Access-token validation.
    pub tokens: Arc<dyn AccessTokens>,
    /// Management API directory.
    pub directory: Arc<dyn CustomerDirectory>,
    /// Passwordless codes.
    pub codes: Arc<dyn OneTimeCodes>,
    /// OIDC login for the web app.
    pub oidc: Arc<Auth0Oidc>,
}

/// Builds the Auth0 adapters from the settings.
pub fn build(settings: &Auth0Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Auth0Identity> {
    let access = match &settings.api_signing_key {
        Some(secret) => TokenAlgorithm::Hs256 {
            secret: secret.clone(),
        },
        None => TokenAlgorithm::Rs256,
    };
    let mut config = Auth0Config::new(
        &settings.domain,
        &settings.api_id,
        &settings.client_id,
        settings.client_secret.clone(),
        access,
    )
    .context("AUTH0_DOMAIN/API_ID/APP_CLIENT_ID: invalid Auth0 settings")?
    .with_clock(clock);
    if let Some(base_url) = &settings.base_url {
        config = config
            .with_base_url(base_url)
            .context("AUTH0_BASE_URL: not a URL")?;
    }
    match settings
        .id_token_alg
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None => {}
        Some("RS256") => config = config.with_id_token_algorithm(TokenAlgorithm::Rs256),
        Some("HS256") => {
            config = config.with_id_token_algorithm(TokenAlgorithm::Hs256 {
                secret: settings.client_secret.clone(),
            })
        }
        Some(other) => bail!("AUTH0_ID_TOKEN_ALG: {other:?} is not HS256 or RS256"),
    }
    let adapters = Auth0Adapters::new(config).context("cannot build the Auth0 client")?;
    Ok(Auth0Identity {
        tokens: adapters.access_tokens,
        directory: adapters.directory,
        codes: adapters.codes,
        oidc: adapters.oidc,
    })
}
