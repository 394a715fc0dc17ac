//! Skill events (`AlexaSkillEvent.*`), verified like every request (with
//! the hour of lateness Amazon allows them) and answered with an empty
//! response:
//!
//! - `SkillAccountLinked`: records which customer the Alexa user linked
//!   (the customer the body's new access token belongs to);
//! - `SkillDisabled`: cancels that customer's pending order and forgets
//!   the link (without a recorded link, the event's access token, if any,
//!   names the customer);
//! - `SkillEnabled`, `SkillPermissionAccepted`, `SkillPermissionChanged`:
//!   logged (the event and the granted scopes; never the user id, a token
//!   or anything personal).
//!
//! A failure of the store or the identity provider is an error, answered
//! with a 503, so that Alexa may deliver the event again.

use pod_alexa::envelope::{RequestEnvelope, ResponseEnvelope, SkillEventKind, SkillEventRequest};
use pod_ports::{AlexaUserId, LinkOutcome, ServiceError, SkillEvents};
use tracing::info;

pub(super) async fn answer(
    events: &SkillEvents,
    envelope: &RequestEnvelope,
    event: &SkillEventRequest,
) -> Result<ResponseEnvelope, ServiceError> {
    let user = envelope
        .system()
        .and_then(|s| s.user.as_ref())
        .and_then(|u| u.user_id.as_deref())
        .and_then(AlexaUserId::parse);
    let kind = event.kind.as_str();
    match &event.kind {
        SkillEventKind::AccountLinked => {
            let token = event.body_access_token().or(envelope.access_token());
            let outcome = match &user {
                Some(user) => events.account_linked(user, token).await?,
                None => LinkOutcome::InvalidToken,
            };
            let outcome = match outcome {
                LinkOutcome::Linked(_) => "linked",
                LinkOutcome::InvalidToken if user.is_none() => "no_user_id",
                LinkOutcome::InvalidToken => "invalid_token",
                LinkOutcome::NotKept => "links_not_kept",
            };
            info!(event = kind, outcome, "skill event");
        }
        SkillEventKind::Disabled => {
            let disabled = events
                .skill_disabled(user.as_ref(), envelope.access_token())
                .await?;
            info!(
                event = kind,
                known = disabled.customer.is_some(),
                forgot_link = disabled.forgot_link,
                cancelled = disabled.cancelled.is_some(),
                "skill event"
            );
        }
        SkillEventKind::PermissionAccepted | SkillEventKind::PermissionChanged => {
            // Scope names (`alexa::profile:email:read`) say what was granted,
            // not anything about the person.
            let scopes = event.accepted_scopes().join(" ");
            info!(event = kind, scopes, "skill event");
        }
        SkillEventKind::Enabled | SkillEventKind::Other(_) => {
            info!(event = kind, "skill event");
        }
    }
    Ok(ResponseEnvelope::empty())
}
