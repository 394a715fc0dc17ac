//! The whole router over the embedded adapters, new for every input, as
//! pod-adapters-http's handler tests build it: an in-memory SQLite store
//! with two users, `demo` (email only) and `sam` (with a phone), local
//! access tokens, local codes that always draw [`CODE`] and go nowhere, and
//! a clock that stands still unless the target moves it.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use pod_adapters_http::{HttpConfig, HttpState, LiveEvents, Metrics, WebApp, WebAppConfig};
use pod_adapters_local::{
    CodeDelivery, CodeHashKey, CodeMessage, DeliveryError, LocalAccessTokens, LocalCodes,
    LocalCodesConfig, LocalDirectory, LocalTokenConfig, LocalTokenKey, LocalUsers, SystemClock,
    UuidOrderIds,
};
use pod_adapters_sql::SqlStore;
use pod_alexa::verify::{DevSigningKeys, RequestVerifier};
use pod_domain::{Channel, ConfirmationPolicy, CustomerId, Timestamp};
use pod_ports::testing::{FixedCodes, ManualClock};
use pod_ports::{AccountStore, Clock, OrderingService, Passwordless, Ports, SignInService};
use tower::ServiceExt;

/// The code every environment draws.
pub(crate) const CODE: &str = "4321";

/// The key of the local access tokens.
pub(crate) const TOKEN_KEY: [u8; 32] = [7; 32];

/// The time every environment starts at: the real time when the process
/// first asked (the development certificates are valid around it).
pub(crate) fn base_now() -> Timestamp {
    static NOW: OnceLock<Timestamp> = OnceLock::new();
    *NOW.get_or_init(|| SystemClock.now())
}

/// The development signing keys, made once per process in a temporary
/// folder (which is left behind: a few kilobytes).
pub(crate) fn dev_keys() -> &'static DevSigningKeys {
    static KEYS: OnceLock<DevSigningKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("pod-fuzz-dev-keys")
            .tempdir()
            .expect("a temporary folder")
            .keep();
        DevSigningKeys::load_or_create(&dir).expect("development keys")
    })
}

/// A runtime for one input.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Code deliveries that go nowhere.
#[derive(Debug)]
struct Nowhere;

#[async_trait]
impl CodeDelivery for Nowhere {
    fn handles(&self, _channel: Channel) -> bool {
        true
    }

    async fn deliver(&self, _message: &CodeMessage<'_>) -> Result<(), DeliveryError> {
        Ok(())
    }
}

/// One router and what a target needs to drive and inspect it.
pub(crate) struct Env {
    pub(crate) router: Router,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) store: Arc<SqlStore>,
    pub(crate) tokens: Arc<LocalAccessTokens>,
    pub(crate) demo: CustomerId,
    pub(crate) sam: CustomerId,
}

/// What one response was.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Env {
    /// The router with `verifier` on `/alexa`, and the passwordless web app
    /// at `/app` when `web`.
    pub(crate) async fn new(verifier: RequestVerifier, web: bool) -> Env {
        let clock = ManualClock::starting_at(base_now());
        let store = Arc::new(
            SqlStore::connect("sqlite::memory:")
                .await
                .expect("an in-memory store"),
        );
        let users = LocalUsers::new(store.clone(), clock.clone());
        let demo = users
            .add("demo", "demo@example.com", None)
            .await
            .expect("user demo")
            .id;
        let sam = users
            .add("sam", "sam@example.com", Some("+15550100"))
            .await
            .expect("user sam")
            .id;
        let key = LocalTokenKey::from_bytes(&TOKEN_KEY).expect("a 32-byte key");
        let tokens = Arc::new(LocalAccessTokens::new(
            &key,
            LocalTokenConfig::default(),
            clock.clone(),
        ));
        let policy = ConfirmationPolicy::default();
        let codes = Arc::new(
            LocalCodes::new(
                Arc::new(FixedCodes(CODE)),
                clock.clone(),
                policy.code_lifetime(),
                vec![Arc::new(Nowhere)],
                LocalCodesConfig::from_policy(&policy, CodeHashKey::new(b"fuzz code hash key")),
            )
            .expect("local codes"),
        );
        let events = LiveEvents::default();
        let directory = Arc::new(LocalDirectory::new(store.clone()));
        let ports = Ports {
            tokens: tokens.clone(),
            directory: directory.clone(),
            codes: codes.clone(),
            store: store.clone(),
            events: Arc::new(events.clone()),
            clock: clock.clone(),
            ids: Arc::new(UuidOrderIds),
        };
        let mut state = HttpState::new(
            OrderingService::new(ports, policy),
            verifier,
            clock.clone(),
            store.clone(),
            Metrics::new(),
            HttpConfig::default(),
        );
        if web {
            let sign_in = SignInService::new(store.clone(), clock.clone(), policy)
                .with_passwordless(Passwordless {
                    users: store.clone(),
                    directory: directory.clone(),
                    codes,
                });
            state = state.with_web_app(WebApp::new(
                store.clone(),
                sign_in,
                pod_adapters_http::SignInMethod::Passwordless,
                directory,
                events,
                WebAppConfig::default(),
            ));
        }
        Env {
            router: pod_adapters_http::router(state),
            clock,
            store,
            tokens,
            demo,
            sam,
        }
    }

    /// A token of `customer`, valid for an hour from the clock's time.
    pub(crate) fn token(&self, customer: &CustomerId) -> String {
        self.tokens
            .issue(customer, Duration::from_secs(3600), self.clock.now())
    }

    /// Sends one request through the router and reads the whole answer.
    pub(crate) async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body read whole")
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// What a refused input must not change: each user's account version
    /// and orders (ids, states, versions).
    pub(crate) async fn snapshot(&self) -> Vec<String> {
        let mut seen = Vec::new();
        for customer in [&self.demo, &self.sam] {
            let account = self
                .store
                .load_account(customer)
                .await
                .expect("account loads");
            seen.push(format!("{customer}: v{}", account.version()));
            for order in self.store.orders_of(customer).await.expect("orders load") {
                seen.push(format!(
                    "{} {:?} v{}",
                    order.id(),
                    order.state(),
                    order.version()
                ));
            }
        }
        seen
    }
}
