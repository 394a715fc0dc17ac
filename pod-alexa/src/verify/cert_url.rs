//! Checking the `SignatureCertChainUrl` header before anything is fetched.

use url::Url;

use super::VerifyError;

/// The only host Amazon serves Alexa signing chains from.
pub const CHAIN_HOST: &str = "s3.amazonaws.com";
/// The path prefix (case sensitive) of every Alexa signing chain URL.
pub const CHAIN_PATH_PREFIX: &str = "/echo.api/";

/// Parses and checks a signing-certificate-chain URL the way Amazon's
/// documentation asks: scheme `https` and host `s3.amazonaws.com` (both case
/// insensitive), path starting with `/echo.api/` (case sensitive, after `..`
/// segments are resolved), and port 443 if a port is given. A query string
/// or a fragment (even an empty one) is refused: Amazon's chain URLs have
/// neither, and each spelling would otherwise be its own cache entry.
///
/// Returns the normalised URL, which is also the cache key for the chain.
pub fn check_chain_url(raw: &str) -> Result<Url, VerifyError> {
    let url = Url::parse(raw.trim()).map_err(|_| VerifyError::CertUrl("not a valid URL"))?;
    // The url crate lower-cases the scheme and the host while parsing.
    if url.scheme() != "https" {
        return Err(VerifyError::CertUrl("scheme is not https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(VerifyError::CertUrl("URL carries credentials"));
    }
    match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case(CHAIN_HOST) => {}
        _ => return Err(VerifyError::CertUrl("host is not s3.amazonaws.com")),
    }
    // `port()` is `None` both when no port is given and when the given port
    // is the scheme default (443), so anything else is a foreign port.
    if url.port().is_some_and(|port| port != 443) {
        return Err(VerifyError::CertUrl("port is not 443"));
    }
    if url.query().is_some() {
        return Err(VerifyError::CertUrl("URL has a query string"));
    }
    if url.fragment().is_some() {
        return Err(VerifyError::CertUrl("URL has a fragment"));
    }
    if !url.path().starts_with(CHAIN_PATH_PREFIX) {
        return Err(VerifyError::CertUrl("path does not start with /echo.api/"));
    }
    Ok(url)
}
