//! The Management API: a cached client-credentials token, refreshed once
//! for all concurrent callers shortly before it expires.

use std::sync::Arc;
use std::time::Duration;

use pod_domain::Timestamp;
use reqwest::{RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};
use tracing::{debug, info};

use crate::config::Auth0Config;
use crate::http::{Reply, Retry, Upstream, UpstreamError};

struct CachedToken {
    token: SecretString,
    refresh_at: Timestamp,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Calls the Management API with a cached token.
pub(crate) struct Management {
    config: Arc<Auth0Config>,
    auth: Upstream,
    api: Upstream,
    token: RwLock<Option<CachedToken>>,
    refresh_gate: Mutex<()>,
}

impl std::fmt::Debug for Management {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Management").finish_non_exhaustive()
    }
}

impl Management {
    pub(crate) fn new(config: Arc<Auth0Config>, auth: Upstream, api: Upstream) -> Self {
        Management {
            config,
            auth,
            api,
            token: RwLock::new(None),
            refresh_gate: Mutex::new(()),
        }
    }

    async fn cached(&self, now: Timestamp) -> Option<SecretString> {
        self.token
            .read()
            .await
            .as_ref()
            .filter(|t| now < t.refresh_at)
            .map(|t| t.token.clone())
    }

    /// A valid token: the cached one, or one fetched by exactly one of the
    /// callers that found none.
    async fn token(&self) -> Result<SecretString, UpstreamError> {
        if let Some(token) = self.cached(self.config.now()).await {
            return Ok(token);
        }
        let _gate = self.refresh_gate.lock().await;
        let now = self.config.now();
        if let Some(token) = self.cached(now).await {
            return Ok(token);
        }
        let (token, lifetime) = self.fetch_token().await?;
        let margin = self.config.ttls.management_token_margin;
        let usable = if lifetime > margin.saturating_mul(2) {
            lifetime - margin
        } else {
            lifetime / 2
        };
        info!(
            lifetime_s = lifetime.as_secs(),
            "Management API token fetched"
        );
        *self.token.write().await = Some(CachedToken {
            token: token.clone(),
            refresh_at: now.plus(usable),
        });
        Ok(token)
    }

    /// Forgets `stale` (after a 401), unless another caller replaced it.
    async fn forget(&self, stale: &SecretString) {
        let mut guard = self.token.write().await;
        if guard
            .as_ref()
            .is_some_and(|t| t.token.expose_secret() == stale.expose_secret())
        {
            *guard = None;
        }
    }

    async fn fetch_token(&self) -> Result<(SecretString, Duration), UpstreamError> {
        let url = self.config.endpoint("oauth/token");
        let config = &self.config;
        let audience = config.management_audience();
        let reply = self
            .auth
            .send("management token", Retry::Safe, |c| {
                c.post(url.clone()).form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", config.client_id.as_str()),
                    ("client_secret", config.client_secret.expose_secret()),
                    ("audience", audience.as_str()),
                ])
            })
            .await?;
        if !reply.status.is_success() {
            return Err(UpstreamError::Garbage(format!(
                "no Management API token: {}",
                reply.summary()
            )));
        }
        let answer: TokenAnswer = reply.json()?;
        if answer.access_token.is_empty() {
            return Err(UpstreamError::Garbage("empty Management API token".into()));
        }
        let lifetime =
            Duration::from_secs(answer.expires_in.unwrap_or(86_400).clamp(1, 30 * 86_400));
        Ok((SecretString::from(answer.access_token), lifetime))
    }

    /// Sends a Management API request with the bearer token; after a 401
    /// the token is replaced and the request sent once more.
    pub(crate) async fn call(
        &self,
        what: &'static str,
        retry: Retry,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Reply, UpstreamError> {
        let mut second_try = false;
        loop {
            let token = self.token().await?;
            let reply = self
                .api
                .send(what, retry, |c| build(c).bearer_auth(token.expose_secret()))
                .await?;
            if reply.status == StatusCode::UNAUTHORIZED && !second_try {
                debug!(what, "Management API token refused; fetching a new one");
                self.forget(&token).await;
                second_try = true;
                continue;
            }
            return Ok(reply);
        }
    }
}
