//! The outbound side of verification: fetching Amazon's signing-certificate
//! chains over HTTPS.
//!
//! [`HttpChainSource`] is the only HTTP client in this crate. In strict mode
//! a [`RequestVerifier`](super::RequestVerifier) fetches each chain URL once
//! (after [`check_chain_url`](super::check_chain_url) accepted it) and then
//! serves it from its bounded cache, so a skill fetches a chain when it
//! first sees its URL (or after the cache dropped it), not per request.

use std::time::Duration;

use async_trait::async_trait;
use url::Url;

use super::chain::MAX_CHAIN_BYTES;
use super::source::{ChainSource, FetchError};

/// The default [`ChainSource`] of strict mode: an HTTPS GET of the chain URL
/// with `reqwest`, with a timeout (connect and whole request), no redirects
/// and a size limit ([`MAX_CHAIN_BYTES`]). Only a 200 answer counts.
#[derive(Debug, Clone)]
pub struct HttpChainSource {
    client: reqwest::Client,
    base: Option<Url>,
}

/// The default fetch timeout: Alexa waits 8 s for the whole answer.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(2);

impl HttpChainSource {
    /// A fetcher for the real chain URLs (HTTPS only).
    pub fn new(timeout: Duration) -> Result<Self, FetchError> {
        Ok(HttpChainSource {
            client: build_client(timeout, true)?,
            base: None,
        })
    }

    /// A fetcher that keeps each chain URL's path (and query) but sends the
    /// request to `base` instead (scheme, host and port taken from `base`;
    /// plain `http` allowed). Meant for tests against a local server and for
    /// mirrors.
    pub fn with_base_url(base: Url, timeout: Duration) -> Result<Self, FetchError> {
        Ok(HttpChainSource {
            client: build_client(timeout, false)?,
            base: Some(base),
        })
    }

    fn target(&self, url: &Url) -> Url {
        match &self.base {
            None => url.clone(),
            Some(base) => {
                let mut target = base.clone();
                target.set_path(url.path());
                target.set_query(url.query());
                target
            }
        }
    }
}

fn build_client(timeout: Duration, https_only: bool) -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .https_only(https_only)
        .build()
        .map_err(|e| FetchError::Other(format!("cannot build HTTP client: {e}")))
}

#[async_trait]
impl ChainSource for HttpChainSource {
    async fn fetch(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        let map = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout
            } else {
                FetchError::Other(format!("request failed: {}", e.without_url()))
            }
        };
        let mut response = self
            .client
            .get(self.target(url))
            .send()
            .await
            .map_err(map)?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(FetchError::Status(status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_CHAIN_BYTES as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(map)? {
            if body.len() + chunk.len() > MAX_CHAIN_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
