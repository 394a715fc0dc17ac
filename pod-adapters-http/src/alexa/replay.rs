//! Answering a state-changing Alexa request once: the request id is claimed
//! in the [`AnsweredRequests`] store before the skill acts on it, and a
//! request seen again (a replay, or Alexa's own retry) gets the answer the
//! first one got, byte for byte, and changes nothing.
//!
//! - **Which requests.** Only intents that place, confirm or cancel orders,
//!   and the skill events that link or disable ([`changes_state`]);
//!   everything else changes nothing and is simply answered again.
//! - **Claim first.** The claim is durable before the skill runs. Of two
//!   copies arriving at once, on one server or two sharing the database,
//!   exactly one is processed; the other waits (at most
//!   [`HttpConfig::replay_wait`](crate::HttpConfig), polling the claim) for
//!   its answer, and otherwise gets `409 request_in_progress`.
//! - **The key** is the `requestId` (a body without one, which Alexa never
//!   sends, is keyed by its digest).
//! - **The same id with other bytes** (possible only where signatures are
//!   off) gets `409 request_id_reused`, never another request's answer: the
//!   claim keeps the SHA-256 of the body.
//! - **Processing runs on a task of its own**, so a client that goes away
//!   or the request timeout cannot leave a claim unresolved: the answer is
//!   recorded, or the claim released, whatever happens to the connection.
//! - **Failures release the claim.** When the skill could only apologise
//!   for an outage (a store, the identity provider or a code delivery
//!   failed), the claim is released, so the platform's retry of the same
//!   request is processed afresh rather than refused for the claim's whole
//!   life. The retry then does what saying it again would: an order whose
//!   code could not be delivered was cancelled, so the retry orders anew
//!   (spending another code of the hour's budget), and a code whose
//!   comparison could not be committed did not count. (A commit that
//!   reported a failure but did apply, a connection lost after `COMMIT`,
//!   would count twice; that is the price of not refusing every retry
//!   after an outage.)
//! - **The answer is recorded after it is sent.** The client does not wait
//!   for that write. Should it be lost (a crash or shutdown in between, the
//!   store down), the claim stays without an answer until it expires:
//!   copies of the request get 409 and still change nothing. So does a
//!   panic in the skill (a bug), which leaves the claim unresolved.
//! - **How long.** A request is accepted while its timestamp is within the
//!   verifier's tolerance of the server's clock, at most 150 s either way,
//!   so a request accepted now can be accepted again for at most 300 s
//!   more; claims are kept [`KEEP`] (that plus a minute for clocks of
//!   servers that disagree a little), then swept by later claims. A skill
//!   event may be an hour late, so its claim is kept [`EVENT_KEEP`].

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use pod_alexa::envelope::{IntentName, Request, ResponseEnvelope, SkillEventKind};
use pod_alexa::verify::{MAX_TIMESTAMP_TOLERANCE, SKILL_EVENT_MAX_AGE};
use pod_domain::Timestamp;
use pod_ports::{AnsweredRequests, Claim};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::{Instrument, Span, info, warn};

use super::texts::Texts;
use crate::HttpState;
use crate::error::ErrorBody;

/// How long a claim is kept after the request was accepted: twice the
/// largest timestamp tolerance (a request stamped up to 150 s ahead stays
/// acceptable until 150 s after its stamp), plus a minute of clock skew
/// between servers.
pub(crate) const KEEP: Duration = Duration::from_secs(2 * MAX_TIMESTAMP_TOLERANCE.as_secs() + 60);

/// The first pause between two looks at a claim in flight, and the longest.
const FIRST_PAUSE: Duration = Duration::from_millis(5);
const LONGEST_PAUSE: Duration = Duration::from_millis(100);

/// How long a skill event's claim is kept: an event is accepted while its
/// timestamp is at most an hour old (and at most the tolerance ahead), so
/// a copy can pass verification for that long after the first, plus a
/// minute of clock skew between servers.
pub(crate) const EVENT_KEEP: Duration =
    Duration::from_secs(SKILL_EVENT_MAX_AGE.as_secs() + MAX_TIMESTAMP_TOLERANCE.as_secs() + 60);

/// Whether answering `request` can change anything: the intents that place,
/// confirm or cancel orders (a replayed "cancel" must not cancel the order
/// placed after it), and the skill events that record or forget a link (a
/// replayed "disabled" must not cancel the order placed after it).
pub(crate) fn changes_state(request: &Request) -> bool {
    match request {
        Request::SkillEvent(event) => matches!(
            event.kind,
            SkillEventKind::AccountLinked | SkillEventKind::Disabled
        ),
        _ => matches!(
            request.intent().map(|intent| &intent.name),
            Some(IntentName::GetMeSomePizza | IntentName::AuthorizePizzaOrder | IntentName::Cancel)
        ),
    }
}

/// What processing a claimed request gave.
pub(crate) enum Processed {
    /// An answer (a JSON body) to send and record: copies of the request
    /// get it again.
    Answered(String),
    /// A response to send once, after which the claim is released
    /// (processing failed for an outage), so that the platform's retry is
    /// processed afresh.
    Failed(Response),
}

impl Processed {
    /// `response`, to send and record.
    pub(crate) fn answered(response: &ResponseEnvelope) -> Processed {
        Processed::Answered(serialize(response))
    }
}

/// How a kind of request says "not now", when the claim cannot be made or
/// the processing is not done by the deadline.
#[derive(Clone, Copy)]
pub(crate) enum Apologies {
    /// Speech in the request's language (intents).
    Speech(&'static Texts),
    /// A 503 (skill events), so that Alexa delivers the event again.
    Event,
}

impl Apologies {
    fn unavailable(self, state: &HttpState) -> Response {
        state.metrics().rejected("unavailable");
        match self {
            Apologies::Speech(texts) => {
                Json(ResponseEnvelope::tell(texts.unavailable)).into_response()
            }
            Apologies::Event => super::event_unavailable(),
        }
    }

    fn too_slow(self, state: &HttpState) -> Response {
        match self {
            Apologies::Speech(texts) => Json(super::too_slow(state, texts)).into_response(),
            Apologies::Event => {
                warn!("the skill event was not handled in time; asking for it again");
                state.metrics().rejected("too_slow");
                super::event_unavailable()
            }
        }
    }
}

/// A request to answer once: its bytes (verified), its id, and until when
/// its claim is kept.
pub(crate) struct Once<'a> {
    pub(crate) body: &'a [u8],
    pub(crate) request_id: Option<&'a str>,
    pub(crate) keep_until: Timestamp,
    pub(crate) apologies: Apologies,
}

/// Answers a request once per request id (see the module): claims it, and
/// when the claim is fresh lets `work` process it on a task of its own;
/// otherwise answers as the first copy was answered.
pub(crate) async fn answer_once<W>(
    state: HttpState,
    once: Once<'_>,
    deadline: Instant,
    span: Span,
    work: W,
) -> Response
where
    W: Future<Output = Processed> + Send + 'static,
{
    let fingerprint = digest(&SHA256, once.body);
    let fingerprint = fingerprint.as_ref();
    let id = claim_key(once.request_id, fingerprint);
    let answers = state.answers().clone();
    let wait_until = Instant::now() + state.replay_wait();
    let mut pause = FIRST_PAUSE;
    loop {
        let claimed = answers
            .claim(&id, fingerprint, state.clock().now(), once.keep_until)
            .instrument(span.clone())
            .await;
        match claimed {
            Ok(Claim::Fresh) => {
                return process(&state, id, once.apologies, deadline, span, work).await;
            }
            Ok(Claim::Taken {
                fingerprint: theirs,
                answer,
            }) => {
                let entered = span.enter();
                if theirs != fingerprint {
                    state.metrics().replayed("id_reused");
                    warn!("a request reused the id of another request; refused");
                    return refuse(
                        StatusCode::CONFLICT,
                        "request_id_reused",
                        "another request with this requestId was answered already",
                    );
                }
                if let Some(answer) = answer {
                    state.metrics().replayed("answered_again");
                    info!("replayed request answered again; nothing changed");
                    return json(StatusCode::OK, answer);
                }
                let left = wait_until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    state.metrics().replayed("in_progress");
                    warn!("replayed request still in progress elsewhere; refused");
                    return refuse(
                        StatusCode::CONFLICT,
                        "request_in_progress",
                        "this request is being answered already; nothing was changed",
                    );
                }
                drop(entered);
                tokio::time::sleep(pause.min(left)).await;
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
            Err(error) => {
                let _entered = span.enter();
                warn!(%error, "cannot claim the request; answering with an apology");
                return once.apologies.unavailable(&state);
            }
        }
    }
}

/// Processes a freshly claimed request on a task of its own, which resolves
/// the claim whatever happens to the caller (records the answer, or
/// releases the claim after a failure); answers by `deadline` with what
/// `work` gave, or with the apology for being slow (the task goes on, and
/// copies of the request then get its real answer).
async fn process<W>(
    state: &HttpState,
    id: String,
    apologies: Apologies,
    deadline: Instant,
    span: Span,
    work: W,
) -> Response
where
    W: Future<Output = Processed> + Send + 'static,
{
    let (sent, answered) = oneshot::channel::<Response>();
    let answers: Arc<dyn AnsweredRequests> = state.answers().clone();
    tokio::spawn(
        async move {
            // The caller may be gone; the claim is resolved all the same.
            let (resolved, released) = match work.await {
                Processed::Answered(body) => {
                    let _ = sent.send(json(StatusCode::OK, body.clone()));
                    (answers.record_answer(&id, &body).await, false)
                }
                Processed::Failed(response) => {
                    let _ = sent.send(response);
                    (answers.release(&id).await, true)
                }
            };
            if let Err(error) = resolved {
                warn!(
                    %error,
                    released,
                    "cannot resolve the request's claim; copies of it get 409 until it expires"
                );
            }
        }
        .instrument(span),
    );
    match tokio::time::timeout_at(deadline, answered).await {
        Ok(Ok(response)) => response,
        // The task panicked: a bug, logged by the runtime.
        Ok(Err(_)) => apologies.unavailable(state),
        Err(_) => apologies.too_slow(state),
    }
}

/// What a request is claimed under: its `requestId`, or, for a body without
/// one (Alexa always sends one), the body's digest, so that copies of it
/// still count as one request.
fn claim_key(request_id: Option<&str>, fingerprint: &[u8]) -> String {
    match request_id {
        Some(id) => id.to_owned(),
        None => {
            let hex: String = fingerprint.iter().map(|b| format!("{b:02x}")).collect();
            format!("sha256:{hex}")
        }
    }
}

fn serialize(response: &ResponseEnvelope) -> String {
    // A response envelope is strings, booleans and maps: always JSON.
    serde_json::to_string(response).unwrap_or_else(|_| "{}".to_owned())
}

/// A JSON body, exactly these bytes.
fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn refuse(status: StatusCode, error: &'static str, message: &'static str) -> Response {
    (status, Json(ErrorBody::new(error, message))).into_response()
}

/// The answered requests of one process, for an [`HttpState`] not given a
/// shared store: replays reaching this server are answered once, replays
/// spread over several servers are not (give them one store with
/// [`HttpState::with_answered_requests`]).
#[derive(Debug, Default)]
pub(crate) struct LocalAnswers {
    claims: std::sync::Mutex<LocalClaims>,
}

#[derive(Debug, Default)]
struct LocalClaims {
    by_id: std::collections::HashMap<String, LocalClaim>,
    next_sweep: i64,
}

#[derive(Debug)]
struct LocalClaim {
    fingerprint: Vec<u8>,
    answer: Option<String>,
    keep_until: Timestamp,
}

impl LocalAnswers {
    fn claims(&self) -> std::sync::MutexGuard<'_, LocalClaims> {
        self.claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl AnsweredRequests for LocalAnswers {
    async fn claim(
        &self,
        request_id: &str,
        fingerprint: &[u8],
        now: Timestamp,
        keep_until: Timestamp,
    ) -> Result<Claim, pod_ports::StoreError> {
        let mut claims = self.claims();
        // A full sweep at most once a second of the claims' time.
        if now.unix_millis() >= claims.next_sweep {
            claims.by_id.retain(|_, claim| claim.keep_until > now);
            claims.next_sweep = now.unix_millis() + 1000;
        }
        if let Some(taken) = claims
            .by_id
            .get(request_id)
            .filter(|claim| claim.keep_until > now)
        {
            return Ok(Claim::Taken {
                fingerprint: taken.fingerprint.clone(),
                answer: taken.answer.clone(),
            });
        }
        claims.by_id.insert(
            request_id.to_owned(),
            LocalClaim {
                fingerprint: fingerprint.to_vec(),
                answer: None,
                keep_until,
            },
        );
        Ok(Claim::Fresh)
    }

    async fn record_answer(
        &self,
        request_id: &str,
        answer: &str,
    ) -> Result<(), pod_ports::StoreError> {
        if let Some(claim) = self.claims().by_id.get_mut(request_id) {
            claim.answer = Some(answer.to_owned());
        }
        Ok(())
    }

    async fn release(&self, request_id: &str) -> Result<(), pod_ports::StoreError> {
        self.claims().by_id.remove(request_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn local() -> (Arc<dyn AnsweredRequests>, ()) {
        (Arc::new(LocalAnswers::default()), ())
    }

    pod_ports::answered_requests_contract!(local);
}
