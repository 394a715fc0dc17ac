//! Embedding pod in another axum application.
//!
//! A shop that already has a web service (here: a home page) mounts pod's
//! whole HTTP surface under `/pod`, so its Alexa skill endpoint is
//! `/pod/alexa` and its JSON API `/pod/api`. pod is built from its own
//! adapters, except one port the shop implements itself: `OrderEvents`, which
//! this example answers with `AuditTrail`, an in-memory list of what happened
//! to orders that the shop shows at `/audit`.
//!
//! This is an example, not a deployment: it keeps its data in a temporary
//! folder that is deleted on exit, uses pod's development Alexa CA instead of
//! Amazon's certificates (`DevSigningKeys`, from `pod-alexa` with its
//! `dev-ca` feature), and has no TLS.
//!
//! ```text
//! cargo run -p pod-adapters-http --example embed
//! # it prints an access token for the user demo; then, in another terminal:
//! curl http://127.0.0.1:7200/                 # the shop's own route
//! curl http://127.0.0.1:7200/pod/healthz      # pod, nested
//! curl -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
//!      -d '{"size":"large","toppings":["pepperoni"]}' http://127.0.0.1:7200/pod/api/orders
//! curl http://127.0.0.1:7200/audit            # what the shop's adapter saw
//! ```

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use pod_adapters_http::{HttpConfig, HttpState, Metrics};
use pod_adapters_local::{
    LocalAccessTokens, LocalCodes, LocalCodesConfig, LocalDirectory, LocalTokenConfig,
    LocalTokenKey, LocalUsers, OsCodeGenerator, Outbox, SystemClock, UuidOrderIds,
};
use pod_adapters_sql::SqlStore;
use pod_alexa::verify::{DevSigningKeys, RequestVerifier, VerifierConfig};
use pod_domain::{ConfirmationPolicy, OrderEvent};
use pod_ports::{Clock, OrderEvents, OrderingService, Ports};
use tokio::net::TcpListener;

/// The shop's own adapter for pod's `OrderEvents` port: it logs every event
/// and keeps the last hundred for the `/audit` page. (pod's `LiveEvents`
/// would feed its web app's live updates instead.)
#[derive(Debug, Clone, Default)]
struct AuditTrail {
    recent: Arc<Mutex<VecDeque<String>>>,
}

#[async_trait]
impl OrderEvents for AuditTrail {
    async fn publish(&self, event: OrderEvent) {
        let order = event.order();
        let line = format!(
            "{} order {} for {}: {}",
            event.name(),
            order.id(),
            order.customer(),
            order.pizza()
        );
        tracing::info!(target: "shop::audit", "{line}");
        let mut recent = self.recent.lock().expect("audit trail");
        if recent.len() == 100 {
            recent.pop_front();
        }
        recent.push_back(line);
    }
}

async fn show_audit(State(audit): State<AuditTrail>) -> String {
    let recent = audit.recent.lock().expect("audit trail");
    recent.iter().map(|line| format!("{line}\n")).collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Telemetry is the host's job: pod's crates only emit `tracing` events.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    // Where pod keeps its files. A real service uses a lasting folder.
    let data = tempfile::tempdir()?;
    let store = Arc::new(SqlStore::open_sqlite(&data.path().join("pod.db")).await?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let policy = ConfirmationPolicy::default();

    // pod's embedded identity: local users, HS256 access tokens, one-time
    // codes delivered to the outbox file. (A shop with its own accounts
    // would implement `AccessTokens` and `CustomerDirectory` instead.)
    let key = LocalTokenKey::load_or_create(&data.path().join("token-signing.key"))?;
    let tokens = LocalAccessTokens::new(&key, LocalTokenConfig::default(), clock.clone());
    let codes = LocalCodes::new(
        Arc::new(OsCodeGenerator),
        clock.clone(),
        policy.code_lifetime(),
        vec![Arc::new(Outbox::in_data_dir(data.path()))],
        LocalCodesConfig::from_policy(&policy, key.derive_code_hash_key()),
    )?;
    let demo = LocalUsers::new(store.clone(), clock.clone())
        .add("demo", "demo@example.com", None)
        .await?;
    let token = tokens.issue(&demo.id, Duration::from_secs(3600), clock.now());

    let audit = AuditTrail::default();
    let ports = Ports {
        tokens: Arc::new(tokens),
        directory: Arc::new(LocalDirectory::new(store.clone())),
        codes: Arc::new(codes),
        store: store.clone(),
        events: Arc::new(audit.clone()),
        clock: clock.clone(),
        ids: Arc::new(UuidOrderIds),
    };
    let service = OrderingService::new(ports, policy);

    // Alexa request verification. Production uses `VerifyMode::Strict` and
    // the skill's id in `skill_ids`; this example trusts a development CA.
    let alexa_keys = DevSigningKeys::load_or_create(&data.path().join("alexa-dev"))?;
    let verifier = RequestVerifier::new(VerifierConfig::new(alexa_keys.dev_mode()))?;

    let state = HttpState::new(
        service,
        verifier,
        clock,
        store.clone(),
        Metrics::new(),
        HttpConfig::default(),
    );

    // The shop's app: its own routes, and pod under /pod.
    let app = Router::new()
        .route(
            "/",
            get(|| async { "The shop's home page. Pizza is under /pod.\n" }),
        )
        .route("/audit", get(show_audit))
        .with_state(audit)
        .nest("/pod", pod_adapters_http::router(state));

    let listen = std::env::var("EMBED_LISTEN").unwrap_or_else(|_| "127.0.0.1:7200".into());
    let listener = TcpListener::bind(&listen).await?;
    tracing::info!(
        addr = %listener.local_addr()?,
        data = %data.path().display(),
        "the shop is listening; pod is under /pod"
    );
    eprintln!("TOKEN={token}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    // Lets SQLite checkpoint its log; every write was durable already.
    store.close().await;
    Ok(())
}
