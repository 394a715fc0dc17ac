//! Requests answered once: what makes a replayed Alexa request harmless.

use async_trait::async_trait;
use pod_domain::Timestamp;

use crate::StoreError;

/// What [`AnsweredRequests::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// No live claim had the id: the caller holds it now, and must either
    /// [record the answer](AnsweredRequests::record_answer) or
    /// [release it](AnsweredRequests::release).
    Fresh,
    /// A live claim holds the id already (made by this caller or any other,
    /// on this server or another).
    Taken {
        /// The fingerprint that claim was made with; compare it with the
        /// request's own before serving the answer to it.
        fingerprint: Vec<u8>,
        /// The answer recorded for it; `None` while it is still being
        /// processed (or if its holder never recorded one).
        answer: Option<String>,
    },
}

/// Remembers, for a while, which requests were answered and with what, so
/// that a request seen again (a replay, or the platform's retry) gets the
/// same answer and changes nothing.
///
/// The unit is a request id (Alexa's `requestId`). [`claim`](Self::claim)
/// is atomic: of any number of callers claiming one id at once, on one
/// server or several sharing the store, exactly one gets [`Claim::Fresh`].
/// A claim lives until its `keep_until`; after that it counts as absent and
/// may be swept away.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait AnsweredRequests: Send + Sync {
    /// Claims `request_id` for processing at `now`, kept until `keep_until`
    /// (which must be after `now`), with `fingerprint` (a digest of the
    /// request, so that another request reusing the id can be told apart).
    /// [`Claim::Fresh`] when no claim with that id is live at `now`;
    /// otherwise [`Claim::Taken`] with the live claim's fingerprint and
    /// answer, and nothing is written. A fresh claim is durable when this
    /// returns. May delete claims that expired before `now`.
    ///
    /// Errors: [`StoreError::Unavailable`] when the store failed; then
    /// nothing is claimed.
    async fn claim(
        &self,
        request_id: &str,
        fingerprint: &[u8],
        now: Timestamp,
        keep_until: Timestamp,
    ) -> Result<Claim, StoreError>;

    /// Records the answer to the claimed `request_id`; later claims of the
    /// id get it in [`Claim::Taken`]. Does nothing when the id holds no
    /// claim (it was released or swept).
    ///
    /// Errors: [`StoreError::Unavailable`] when the store failed; the claim
    /// then stays without an answer until it expires.
    async fn record_answer(&self, request_id: &str, answer: &str) -> Result<(), StoreError>;

    /// Gives up the claim of `request_id` (its processing failed and
    /// changed nothing a retry would repeat), so the next claim is
    /// [`Claim::Fresh`]. Does nothing when the id holds no claim.
    ///
    /// Errors: [`StoreError::Unavailable`] when the store failed; the claim
    /// then stays until it expires.
    async fn release(&self, request_id: &str) -> Result<(), StoreError>;
}
