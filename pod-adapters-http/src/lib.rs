//! The HTTP surfaces of pod, as one axum [`Router`] built from the ports.
//!
//! - `POST /alexa`: the skill endpoint. Every request is verified first
//!   ([`pod_alexa::verify::RequestVerifier`]: certificate URL, chain,
//!   `Signature-256`, timestamp, skill id), which yields the typed envelope;
//!   the skill answers it with speech. A request that can change state is
//!   answered once per request id: a replay gets the first answer again and
//!   changes nothing ([`HttpState::with_answered_requests`]). Skill events (`AlexaSkillEvent.*`,
//!   up to an hour old) get an empty answer after pod acted on them (see
//!   [`HttpState::with_alexa_links`]); a `CanFulfillIntentRequest` gets a
//!   `canFulfillIntent` answer with no side effect.
//! - `/api`: JSON for services and scripts, `Authorization: Bearer <token>`
//!   (`DELETE /api/orders/pending` cancels the order waiting for its code).
//! - `/app`: the web app for account holders ([`app`]), when a [`WebApp`] is
//!   given with [`HttpState::with_web_app`].
//! - `/healthz`, `/readyz`, `/metrics`: for operators.
//!
//! **API Boundary:** [`router`] and [`HttpState`]. An embedding service
//! builds an [`HttpState`] from its own [`OrderingService`] and nests the
//! router wherever it likes (`Router::new().nest("/pod", pod_router)`). The
//! verifier [`HttpState::new`] takes comes from the `pod-alexa` crate.

mod alexa;
mod api;
pub mod app;
mod error;
mod events;
mod metrics;
pub mod oauth;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pod_ports::{AccountStore, AlexaLinks, AnsweredRequests, Clock, OrderingService, SkillEvents};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use alexa::ProgressiveResponses;
pub use app::{PrivacyPolicy, SignInMethod, WebApp, WebAppConfig};
pub use events::{Live, LiveEvents};
pub use metrics::Metrics;
pub use oauth::OAuthServer;
use pod_alexa::verify::RequestVerifier;

/// Limits and switches of the HTTP surfaces.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The largest request body accepted (default 64 KiB; Alexa's are a few KiB).
    pub body_limit: usize,
    /// How long one request may take before it is answered with 408
    /// (default 7 s, inside Alexa's 8-second limit). `/alexa` answers with
    /// an apology a second before that (see `alexa/mod.rs`).
    pub request_timeout: Duration,
    /// Whether `/metrics` is served on this router (default yes; turn it off
    /// when metrics are bound to another address with [`metrics_router`]).
    pub serve_metrics: bool,
    /// How long a copy of an Alexa request that is still being answered
    /// (a replay arriving while the original is processed) waits for that
    /// answer before it is refused with 409 (default 2 s).
    pub replay_wait: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit: 64 * 1024,
            request_timeout: Duration::from_secs(7),
            serve_metrics: true,
            replay_wait: Duration::from_secs(2),
        }
    }
}

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct HttpState {
    inner: Arc<Inner>,
    web: Option<Arc<WebApp>>,
    skill_events: Arc<SkillEvents>,
    answers: Arc<dyn AnsweredRequests>,
    oauth: Option<Arc<OAuthServer>>,
    progressive: Option<Arc<ProgressiveResponses>>,
}

struct Inner {
    service: OrderingService,
    verifier: RequestVerifier,
    clock: Arc<dyn Clock>,
    store: Arc<dyn AccountStore>,
    metrics: Metrics,
    config: HttpConfig,
}

impl HttpState {
    /// The state for [`router`]: the service the surfaces drive, the Alexa
    /// request verifier, the clock verification reads, the store `/readyz`
    /// pings, and the metrics registry.
    pub fn new(
        service: OrderingService,
        verifier: RequestVerifier,
        clock: Arc<dyn Clock>,
        store: Arc<dyn AccountStore>,
        metrics: Metrics,
        config: HttpConfig,
    ) -> Self {
        let skill_events = Arc::new(SkillEvents::new(service.clone(), None));
        HttpState {
            skill_events,
            inner: Arc::new(Inner {
                service,
                verifier,
                clock,
                store,
                metrics,
                config,
            }),
            web: None,
            answers: Arc::new(alexa::replay::LocalAnswers::default()),
            oauth: None,
            progressive: None,
        }
    }

    /// Keeps the links between Alexa users and customers that skill events
    /// make (`SkillAccountLinked`) and use (`SkillDisabled` cancels the
    /// linked customer's pending order). Without it, skill events are
    /// acknowledged, and a disable acts only through the event's own
    /// access token.
    pub fn with_alexa_links(mut self, links: Arc<dyn AlexaLinks>) -> Self {
        self.skill_events = Arc::new(SkillEvents::new(self.inner.service.clone(), Some(links)));
        self
    }

    /// Keeps the Alexa requests answered in `answers`, shared by every
    /// server on the same store, so that a request replayed to another
    /// server also gets the first answer and changes nothing. Without it,
    /// each [`HttpState`] remembers in memory the requests it answered
    /// (replays to the same server are answered once; replays spread over
    /// servers are not).
    pub fn with_answered_requests(mut self, answers: Arc<dyn AnsweredRequests>) -> Self {
        self.answers = answers;
        self
    }

    /// Serves the web app at `/app` too.
    pub fn with_web_app(mut self, web: WebApp) -> Self {
        self.web = Some(Arc::new(web));
        self
    }

    /// Serves the OAuth 2.0 authorization server too (`/oauth/*` and its
    /// pages under `/app`); only together with a web app, which signs
    /// people in.
    pub fn with_oauth(mut self, oauth: OAuthServer) -> Self {
        self.oauth = Some(Arc::new(oauth));
        self
    }

    /// Sends progressive responses while a slow order step runs on `/alexa`.
    pub fn with_progressive_responses(mut self, progressive: ProgressiveResponses) -> Self {
        self.progressive = Some(Arc::new(progressive));
        self
    }

    pub(crate) fn progressive(&self) -> Option<&ProgressiveResponses> {
        self.progressive.as_deref()
    }

    pub(crate) fn service(&self) -> &OrderingService {
        &self.inner.service
    }

    pub(crate) fn skill_events(&self) -> &SkillEvents {
        &self.skill_events
    }

    pub(crate) fn verifier(&self) -> &RequestVerifier {
        &self.inner.verifier
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        self.inner.config.request_timeout
    }

    pub(crate) fn answers(&self) -> &Arc<dyn AnsweredRequests> {
        &self.answers
    }

    pub(crate) fn replay_wait(&self) -> Duration {
        self.inner.config.replay_wait
    }
}

/// The router of every pod surface, to serve or to nest in another app.
///
/// # Example
///
/// pod's embedded adapters under `/pod` in another axum app, answering a
/// request to the JSON API (`pod-adapters-http/examples/embed.rs` has the
/// whole service with its own port adapters):
///
/// ```
/// # use std::sync::Arc;
/// # use std::time::Duration;
/// use axum::Router;
/// use pod_adapters_http::{HttpConfig, HttpState, LiveEvents, Metrics, router};
/// use pod_adapters_local::*;
/// use pod_adapters_sql::SqlStore;
/// use pod_alexa::verify::{RequestVerifier, VerifierConfig, VerifyMode};
/// use pod_ports::domain::ConfirmationPolicy;
/// use pod_ports::{Clock, OrderingService, Ports};
/// # use tower::ServiceExt;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let store = Arc::new(SqlStore::connect("sqlite::memory:").await?);
/// let clock: Arc<dyn Clock> = Arc::new(SystemClock);
/// let key = LocalTokenKey::from_bytes(&[7; 32]).expect("32 bytes make a key");
/// let policy = ConfirmationPolicy::default();
/// let ann = LocalUsers::new(store.clone(), clock.clone())
///     .add("ann", "ann@example.com", None)
///     .await?;
/// let tokens = LocalAccessTokens::new(&key, LocalTokenConfig::default(), clock.clone());
/// let token = tokens.issue(&ann.id, Duration::from_secs(3600), clock.now());
/// let codes = LocalCodes::new(
///     Arc::new(OsCodeGenerator),
///     clock.clone(),
///     policy.code_lifetime(),
///     vec![Arc::new(Outbox::in_data_dir(dir.path()))],
///     LocalCodesConfig::from_policy(&policy, key.derive_code_hash_key()),
/// )?;
/// let ports = Ports {
///     tokens: Arc::new(tokens),
///     directory: Arc::new(LocalDirectory::new(store.clone())),
///     codes: Arc::new(codes),
///     store: store.clone(),
///     events: Arc::new(LiveEvents::default()),
///     clock: clock.clone(),
///     ids: Arc::new(UuidOrderIds),
/// };
/// let verifier = RequestVerifier::new(VerifierConfig::new(VerifyMode::Strict))?;
/// let state = HttpState::new(
///     OrderingService::new(ports, policy),
///     verifier,
///     clock,
///     store,
///     Metrics::new(),
///     HttpConfig::default(),
/// );
/// let app: Router = Router::new().nest("/pod", router(state));
///
/// let request = axum::http::Request::get("/pod/api/orders")
///     .header("authorization", format!("Bearer {token}"))
///     .body(axum::body::Body::empty())?;
/// let response = app.oneshot(request).await?;
/// assert_eq!(response.status(), 200);
/// # Ok(())
/// # }
/// ```
pub fn router(state: HttpState) -> Router {
    let config = state.inner.config.clone();
    let mut router = Router::new()
        .route("/alexa", post(alexa::handle))
        .nest("/api", api::routes())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz));
    if let Some(web) = state.web.clone() {
        router = router.merge(app::router(state.clone(), web.clone()));
        if let Some(oauth) = state.oauth.clone() {
            router = router.merge(oauth::router(state.clone(), web, oauth));
        }
    }
    if config.serve_metrics {
        router = router.route("/metrics", get(render_metrics));
    }
    router
        .fallback(|| async {
            error::ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
        })
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// The span of one request: its method and route, never the full URI (the
/// original's `/api/authorize/{code}` carries a code in the path).
fn request_span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str());
    tracing::info_span!("http", method = %request.method(), route)
}

/// A router with only `/metrics`, for binding metrics to another address.
pub fn metrics_router(metrics: Metrics) -> Router {
    Router::new().route(
        "/metrics",
        get(move || async move { metrics_response(&metrics) }),
    )
}

async fn readyz(State(state): State<HttpState>) -> Response {
    match state.inner.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

async fn render_metrics(State(state): State<HttpState>) -> Response {
    metrics_response(&state.inner.metrics)
}

fn metrics_response(metrics: &Metrics) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}

/// Counts every request by route and status and observes its latency.
async fn track(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics().request(
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
