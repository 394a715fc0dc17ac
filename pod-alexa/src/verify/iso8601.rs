//! The timestamps of Alexa requests: named helpers over
//! [`Timestamp::parse_rfc3339`] and [`Timestamp::to_rfc3339`], which hold the
//! calendar arithmetic in pod-domain.

use pod_domain::Timestamp;

/// Parses an ISO 8601 / RFC 3339 date-time such as Alexa's
/// `request.timestamp` (`2026-11-24T21:30:00Z`); `None` when malformed.
pub fn parse_iso8601(text: &str) -> Option<Timestamp> {
    Timestamp::parse_rfc3339(text)
}

/// Formats a timestamp as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds).
pub fn format_iso8601(at: Timestamp) -> String {
    at.to_rfc3339()
}
