//! Where signing-certificate chains come from: the [`ChainSource`] trait,
//! its errors, and [`DirChainSource`], which reads chains from a local
//! folder (development mode). The HTTPS source is
//! [`HttpChainSource`](super::HttpChainSource).

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use url::Url;

use super::cert_url::CHAIN_PATH_PREFIX;
use super::chain::MAX_CHAIN_BYTES;

/// Why a chain could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The request took longer than the configured timeout.
    #[error("timed out")]
    Timeout,
    /// The server answered with a status other than 200.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The answer was larger than the limit.
    #[error("chain file too large")]
    TooLarge,
    /// The chain is not available from this source (e.g. no such local file).
    #[error("not found")]
    NotFound,
    /// Anything else (connection refused, TLS failure, IO error ...).
    #[error("{0}")]
    Other(String),
}

/// Where signing-certificate chains come from. Object safe, so a verifier
/// holds an `Arc<dyn ChainSource>`; tests plug in fakes that count fetches.
#[async_trait]
pub trait ChainSource: Send + Sync + fmt::Debug {
    /// The PEM bytes of the chain at `url` (already checked and normalised
    /// by [`check_chain_url`](super::check_chain_url)).
    async fn fetch(&self, url: &Url) -> Result<Vec<u8>, FetchError>;
}

/// A [`ChainSource`] for development: a chain URL
/// `https://s3.amazonaws.com/echo.api/NAME` is read from the file `NAME` in
/// a local folder. `NAME` must be a plain file name (letters, digits, `.`,
/// `_`, `-`, not starting with `.`); nothing else is ever read.
#[derive(Debug, Clone)]
pub struct DirChainSource {
    dir: PathBuf,
}

impl DirChainSource {
    /// Serves chains from the files in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirChainSource { dir: dir.into() }
    }

    /// The file name a chain URL maps to, if it is acceptable.
    pub fn file_name(url: &Url) -> Option<&str> {
        let name = url.path().strip_prefix(CHAIN_PATH_PREFIX)?;
        let plain = !name.is_empty()
            && name.len() <= 128
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        plain.then_some(name)
    }
}

#[async_trait]
impl ChainSource for DirChainSource {
    async fn fetch(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        let name = Self::file_name(url).ok_or(FetchError::NotFound)?;
        let path = self.dir.join(name);
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() && meta.len() <= MAX_CHAIN_BYTES as u64 => {}
            Ok(meta) if meta.is_file() => return Err(FetchError::TooLarge),
            Ok(_) => return Err(FetchError::NotFound),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(FetchError::NotFound);
            }
            Err(e) => return Err(FetchError::Other(format!("cannot read chain file: {e}"))),
        }
        tokio::fs::read(&path)
            .await
            .map_err(|e| FetchError::Other(format!("cannot read chain file: {e}")))
    }
}
