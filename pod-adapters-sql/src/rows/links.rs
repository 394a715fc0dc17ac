//! The `alexa_links` table: Alexa user id → customer id, shared by both
//! backends.

use pod_domain::CustomerId;
use pod_ports::StoreError;

use super::corrupt;

/// The upsert both backends run: a link replaces the stored one unless that
/// is newer. `$1` the Alexa user id, `$2` the customer id, `$3` the time.
pub(crate) const LINK: &str = "INSERT INTO alexa_links (alexa_user_id, customer_id, linked_at) \
     VALUES ($1, $2, $3) \
     ON CONFLICT (alexa_user_id) DO UPDATE \
     SET customer_id = excluded.customer_id, linked_at = excluded.linked_at \
     WHERE excluded.linked_at >= alexa_links.linked_at";

/// Forgets a link in one statement, returning its customer.
pub(crate) const FORGET: &str =
    "DELETE FROM alexa_links WHERE alexa_user_id = $1 RETURNING customer_id";

/// The customer of a link.
pub(crate) const CUSTOMER_OF: &str = "SELECT customer_id FROM alexa_links WHERE alexa_user_id = $1";

/// A stored customer id, read back.
pub(crate) fn customer(raw: String) -> Result<CustomerId, StoreError> {
    // The key is an Alexa user id: it stays out of the message.
    CustomerId::parse(raw)
        .map_err(|_| corrupt("alexa_links", "(link)", "customer_id", "not a customer id"))
}
