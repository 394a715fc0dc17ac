//! Builds pod from [`Settings`] and runs it until a shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::Router;
use axum_server::accept::DefaultAcceptor;
use axum_server::tls_rustls::RustlsAcceptor;
use pod_adapters_http::{
    HttpConfig, HttpState, LiveEvents, Metrics, OAuthServer, PrivacyPolicy, SignInMethod, WebApp,
    WebAppConfig,
};
use pod_adapters_local::{
    CodeDelivery, GrantCheckedTokens, LocalAccessTokens, LocalCodes, LocalCodesConfig,
    LocalDirectory, LocalTokenConfig, LocalTokenKey, LocalUsers, OsCodeGenerator, OsSecrets,
    Outbox, SmtpConfig, SmtpDelivery, SystemClock, TwilioDelivery, UuidOrderIds, WebhookDelivery,
};
use pod_adapters_sql::{SqlStore, StoreEvents};
use pod_alexa::verify::{DevSigningKeys, RequestVerifier, VerifierConfig, VerifyMode};
use pod_domain::Channel;
use pod_ports::oauth::OAuthConfig;
use pod_ports::{
    Clock, GrantTokens, OAuthService, OrderingService, Passwordless, Ports, SignInService, WebLogin,
};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::auth0;
use crate::conn::{self, CappedAcceptor};
use crate::settings::{IdentitySettings, Settings, VerifySetting};

/// The SQLite file in the data folder.
pub const DATABASE_FILE: &str = "pod.db";
/// The local token signing key in the data folder.
pub const TOKEN_KEY_FILE: &str = "token-signing.key";
/// The folder (in the data folder) of the development Alexa CA.
pub const ALEXA_DEV_DIR: &str = "alexa-dev";

/// A built pod server: bound, not yet serving.
#[allow(missing_debug_implementations)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    tls: Option<(PathBuf, PathBuf)>,
    metrics: Option<(TcpListener, Router)>,
    max_connections: u32,
    store: SqlStore,
    /// Order events between the servers on the database (stopped before
    /// the store is closed).
    events: StoreEvents,
    /// This server's live pages, ended at shutdown.
    live: LiveEvents,
}

/// Opens the data folder and the database, creating both when missing
/// (`pod serve`, `pod users add`).
pub async fn open_store(data_dir: &Path, database_url: Option<&str>) -> anyhow::Result<SqlStore> {
    create_private_dir(data_dir)?;
    open_store_at(data_dir, database_url).await
}

async fn open_store_at(data_dir: &Path, database_url: Option<&str>) -> anyhow::Result<SqlStore> {
    match database_url {
        Some(url) => SqlStore::connect(url)
            .await
            .context("POD_DATABASE_URL: cannot open the database"),
        None => {
            let path = data_dir.join(DATABASE_FILE);
            SqlStore::open_sqlite(&path)
                .await
                .with_context(|| format!("cannot open the database {}", path.display()))
        }
    }
}

/// Opens the database of an existing data folder and creates nothing: for
/// the commands that read (or change) what `pod serve` or `pod users add`
/// set up. A database URL is opened as given.
pub async fn open_existing_store(
    data_dir: &Path,
    database_url: Option<&str>,
) -> anyhow::Result<SqlStore> {
    if database_url.is_some() {
        return open_store_at(data_dir, database_url).await;
    }
    require_data_dir(data_dir)?;
    let path = data_dir.join(DATABASE_FILE);
    if !path.is_file() {
        bail!(
            "no pod database in the data folder {}: set POD_DATA_DIR, or run `pod serve` once to create one",
            absolute(data_dir).display()
        );
    }
    open_store_at(data_dir, None).await
}

/// Fails unless the data folder exists, naming where it looked.
pub fn require_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    if data_dir.is_dir() {
        return Ok(());
    }
    bail!(
        "no pod data folder at {}: set POD_DATA_DIR, or run `pod serve` once to create one",
        absolute(data_dir).display()
    )
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The local token signing key, created on first use.
pub fn local_token_key(data_dir: &Path) -> anyhow::Result<LocalTokenKey> {
    create_private_dir(data_dir)?;
    LocalTokenKey::load_or_create(&data_dir.join(TOKEN_KEY_FILE))
        .context("cannot load or create the token signing key")
}

/// The embedded identity's access tokens for `audience`, signed with the
/// data folder's [`local_token_key`]: what `pod serve` checks and
/// `pod token` issues.
pub fn local_access_tokens(
    key: &LocalTokenKey,
    audience: &str,
    clock: Arc<dyn Clock>,
) -> LocalAccessTokens {
    LocalAccessTokens::new(
        key,
        LocalTokenConfig {
            audience: audience.to_owned(),
            ..LocalTokenConfig::default()
        },
        clock,
    )
}

/// The OAuth 2.0 server of the embedded mode over `store`, issuing
/// `tokens` (for `pod serve` and `pod clients`).
pub fn oauth_service(
    access_token_lifetime: std::time::Duration,
    store: &Arc<SqlStore>,
    tokens: Arc<dyn GrantTokens>,
    clock: Arc<dyn Clock>,
) -> OAuthService {
    OAuthService::new(
        store.clone(),
        tokens,
        Arc::new(OsSecrets),
        clock,
        OAuthConfig {
            access_token_lifetime,
            ..OAuthConfig::default()
        },
    )
}

/// The development Alexa signing keys, created on first use.
pub fn dev_signing_keys(data_dir: &Path) -> anyhow::Result<DevSigningKeys> {
    let dir = data_dir.join(ALEXA_DEV_DIR);
    create_private_dir(&dir)?;
    DevSigningKeys::load_or_create(&dir).context("cannot load or create the development Alexa CA")
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("POD_DATA_DIR: cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// What the identity settings give the server: its ports, the OIDC login
/// of the web app (Auth0), and the OAuth server (the embedded mode).
type Identity = (Ports, Option<Arc<dyn WebLogin>>, Option<OAuthService>);

impl Application {
    /// Opens the store, builds the adapters and the service, and binds the
    /// listener(s). Nothing is served until [`Application::run_until`].
    pub async fn build(settings: &Settings) -> anyhow::Result<Application> {
        let store = open_store(&settings.data_dir, settings.database_url.as_deref()).await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let metrics = Metrics::new();
        store.set_telemetry(Arc::new(metrics.clone()));
        let shared_store = Arc::new(store.clone());
        // This server's live pages follow `events`. On PostgreSQL the
        // services publish through the database to every server's
        // listener, which feeds `events` (and asks the pages to reload
        // after it reconnected); on SQLite they publish to `events` itself.
        let events = LiveEvents::default();
        let store_events = {
            let live = events.clone();
            store
                .order_events(Arc::new(events.clone()), move || live.resync())
                .await
                .context("POD_DATABASE_URL: cannot listen for order events")?
        };

        let (ports, oidc, oauth): Identity = match &settings.identity {
            IdentitySettings::Embedded => {
                let key = local_token_key(&settings.data_dir)?;
                let tokens = local_access_tokens(&key, &settings.api_audience, clock.clone());
                let tokens = Arc::new(tokens);
                // pod is the OAuth server Alexa links accounts against; the
                // tokens it issues work only while their grant is active.
                let oauth = oauth_service(
                    settings.oauth_access_token_ttl,
                    &shared_store,
                    tokens.clone(),
                    clock.clone(),
                );
                let tokens = GrantCheckedTokens::new(tokens, shared_store.clone());
                // The outbox is the development delivery: only for the
                // channels no real delivery handles (with SMTP, email codes
                // are written nowhere but the mail).
                let mut outbox = Outbox::in_data_dir(&settings.data_dir);
                let mut deliveries: Vec<Arc<dyn CodeDelivery>> = Vec::new();
                // Each channel has at most one real delivery (settings
                // checked that): email over SMTP or the webhook, SMS through
                // Twilio or the webhook.
                if let Some((url, from)) = &settings.smtp {
                    let smtp =
                        SmtpDelivery::new(&SmtpConfig::new(url.expose_secret(), from.clone()))
                            .context("POD_SMTP_URL: not a usable SMTP URL")?;
                    deliveries.push(Arc::new(smtp));
                    outbox = outbox.without(Channel::Email);
                    info!("email codes go over SMTP");
                }
                if let Some(twilio) = &settings.deliveries.twilio {
                    let sms = TwilioDelivery::new(twilio).context("POD_TWILIO_ACCOUNT_SID")?;
                    deliveries.push(Arc::new(sms));
                    outbox = outbox.without(Channel::Sms);
                    info!("SMS codes go through Twilio");
                }
                if let Some(webhook) = &settings.deliveries.webhook {
                    let hook =
                        WebhookDelivery::new(webhook, clock.clone()).context("POD_WEBHOOK_URL")?;
                    deliveries.push(Arc::new(hook));
                    for channel in &webhook.channels {
                        outbox = outbox.without(*channel);
                        info!("{} codes go to the webhook", channel.as_str());
                    }
                }
                deliveries.push(Arc::new(outbox));
                let codes = LocalCodes::new(
                    Arc::new(OsCodeGenerator),
                    clock.clone(),
                    settings.policy.code_lifetime(),
                    deliveries,
                    LocalCodesConfig::from_policy(&settings.policy, key.derive_code_hash_key()),
                )
                .context("one-time code settings")?;
                add_demo_user_on_first_start(&store, clock.clone()).await?;
                let ports = Ports {
                    tokens: Arc::new(tokens),
                    directory: Arc::new(LocalDirectory::new(shared_store.clone())),
                    codes: Arc::new(codes),
                    store: shared_store.clone(),
                    events: store_events.publisher(),
                    clock: clock.clone(),
                    ids: Arc::new(UuidOrderIds),
                };
                (ports, None, Some(oauth))
            }
            IdentitySettings::Auth0(auth0_settings) => {
                let identity = auth0::build(auth0_settings, clock.clone())?;
                let ports = Ports {
                    tokens: identity.tokens,
                    directory: identity.directory,
                    codes: identity.codes,
                    store: shared_store.clone(),
                    events: store_events.publisher(),
                    clock: clock.clone(),
                    ids: Arc::new(UuidOrderIds),
                };
                // Auth0 is the authorization server Alexa links against.
                (ports, Some(identity.oidc as Arc<dyn WebLogin>), None)
            }
        };
        let web_app = web_app(settings, &ports, oidc, &shared_store, &events)?;
        let service = OrderingService::new(ports, settings.policy);

        let mode = match settings.verify {
            VerifySetting::Strict => VerifyMode::Strict,
            VerifySetting::Dev => dev_signing_keys(&settings.data_dir)?.dev_mode(),
            VerifySetting::Off => {
                warn!(
                    "POD_ALEXA_VERIFY=off: Alexa request signatures are NOT checked; never run this in production"
                );
                VerifyMode::Off
            }
        };
        let mut verifier_config = VerifierConfig::new(mode);
        verifier_config.skill_ids = settings.skill_ids.clone();
        verifier_config.timestamp_tolerance = settings.timestamp_tolerance;
        let verifier = RequestVerifier::new(verifier_config)
            .context("POD_ALEXA_VERIFY: cannot build the verifier")?;

        // `/metrics` is for operators: on POD_METRICS_LISTEN when that is
        // set, else on the main listener only when that is a loopback
        // address (the default); a public listener never shows it.
        let serve_metrics = settings.metrics_listen.is_none() && settings.listen.ip().is_loopback();
        if settings.metrics_listen.is_none() && !serve_metrics {
            info!(
                "/metrics is not served on the public address {}: set POD_METRICS_LISTEN to a private one",
                settings.listen
            );
        }
        let http_config = HttpConfig {
            serve_metrics,
            ..HttpConfig::default()
        };
        // The Alexa requests answered are kept in the store, so that a
        // request replayed to any server sharing the database is answered
        // once.
        let state = HttpState::new(
            service,
            verifier,
            clock,
            shared_store.clone(),
            metrics.clone(),
            http_config,
        )
        .with_alexa_links(shared_store.clone())
        .with_answered_requests(shared_store)
        .with_web_app(web_app);
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("POD_LISTEN: cannot listen on {}", settings.listen))?;
        let state = match oauth {
            Some(oauth) => {
                // The public URL defaults to the listen address; on port 0
                // that is the port the system picked.
                let mut public_url = settings.public_url.clone();
                let listen = settings.listen.to_string();
                if settings.listen.port() == 0 && public_url.ends_with(&listen) {
                    public_url = public_url.replace(&listen, &listener.local_addr()?.to_string());
                }
                state.with_oauth(OAuthServer::new(
                    oauth,
                    &format!("{public_url}{}", settings.base_path),
                ))
            }
            None => state,
        };
        let state = match progressive_responses(settings)? {
            Some(progressive) => state.with_progressive_responses(progressive),
            None => state,
        };
        let mut router = pod_adapters_http::router(state);
        if !settings.base_path.is_empty() {
            router = Router::new().nest(&settings.base_path, router);
        }

        let metrics = match settings.metrics_listen {
            Some(addr) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("POD_METRICS_LISTEN: cannot listen on {addr}"))?;
                Some((listener, pod_adapters_http::metrics_router(metrics)))
            }
            None => None,
        };
        Ok(Application {
            listener,
            router,
            tls: settings.tls.clone(),
            metrics,
            max_connections: settings.max_connections,
            store,
            events: store_events,
            live: events,
        })
    }

    /// The address the server is bound to (useful with port 0).
    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The address metrics are served on, when bound separately.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let live = self.live.clone();
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
            // Live pages never end by themselves: end them, so the graceful
            // shutdown drains only real requests (the pages reconnect).
            live.shutdown();
        });
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        // Every listener gets the same connection limits (`conn`): a
        // deadline for request headers, which also closes idle keep-alive
        // connections, and a cap on the connections served at once.
        let max_connections = self.max_connections;
        if let Some((listener, router)) = self.metrics {
            let rx = stop_rx.clone();
            tokio::spawn(async move {
                let served = async {
                    let handle = axum_server::Handle::new();
                    let h = handle.clone();
                    tokio::spawn(async move {
                        stopped(rx).await;
                        h.graceful_shutdown(None);
                    });
                    conn::limit(axum_server::from_tcp(listener.into_std()?)?)
                        .acceptor(CappedAcceptor::new(DefaultAcceptor, max_connections))
                        .handle(handle)
                        .serve(router.into_make_service())
                        .await
                };
                if let Err(error) = served.await {
                    warn!(%error, "metrics server stopped");
                }
            });
        }
        let handle = axum_server::Handle::new();
        let capped = CappedAcceptor::new(DefaultAcceptor, max_connections);
        // Connection info gives the sign-in page the client address its
        // per-address budget counts by.
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        match self.tls {
            None => {
                let h = handle.clone();
                tokio::spawn(async move {
                    stopped(stop_rx).await;
                    // Like `axum::serve`: the requests in flight finish.
                    h.graceful_shutdown(None);
                });
                conn::limit(axum_server::from_tcp(self.listener.into_std()?)?)
                    .acceptor(capped)
                    .handle(handle)
                    .serve(service)
                    .await?;
            }
            Some((cert, key)) => {
                let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                    .await
                    .with_context(|| {
                        format!(
                            "POD_TLS_CERT/POD_TLS_KEY: cannot load {} and {}",
                            cert.display(),
                            key.display()
                        )
                    })?;
                let h = handle.clone();
                tokio::spawn(async move {
                    stopped(stop_rx).await;
                    h.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
                });
                conn::limit(axum_server::from_tcp(self.listener.into_std()?)?)
                    .acceptor(RustlsAcceptor::new(config).acceptor(capped))
                    .handle(handle)
                    .serve(service)
                    .await?;
            }
        }
        self.events.stop().await;
        self.store.close().await;
        info!("pod stopped");
        Ok(())
    }
}

/// The web app at `/app`: passwordless sign-in with pod's codes in the
/// embedded mode, the OIDC login when Auth0 is configured.
fn web_app(
    settings: &Settings,
    ports: &Ports,
    oidc: Option<Arc<dyn WebLogin>>,
    store: &Arc<SqlStore>,
    events: &LiveEvents,
) -> anyhow::Result<WebApp> {
    let app_url = format!("{}{}/app", settings.public_url, settings.base_path);
    let mut sign_in = SignInService::new(ports.store.clone(), ports.clock.clone(), settings.policy);
    let method = match oidc {
        Some(login) => SignInMethod::Oidc {
            login,
            redirect_uri: format!("{app_url}/callback"),
            post_logout_uri: format!("{app_url}/sign-in"),
        },
        None => {
            sign_in = sign_in.with_passwordless(Passwordless {
                users: store.clone(),
                directory: ports.directory.clone(),
                codes: ports.codes.clone(),
            });
            SignInMethod::Passwordless
        }
    };
    let privacy_policy = match &settings.privacy_policy_file {
        None => PrivacyPolicy::Default,
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("POD_PRIVACY_POLICY_FILE: cannot read {}", path.display())
            })?;
            let html = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
            if html {
                PrivacyPolicy::Html(text)
            } else {
                PrivacyPolicy::Text(text)
            }
        }
    };
    let config = WebAppConfig {
        base_path: settings.base_path.clone(),
        secure_cookie: settings.secure_cookies,
        trust_forwarded_for: settings.trust_forwarded_for,
        privacy_policy,
        ..WebAppConfig::default()
    };
    Ok(WebApp::new(
        store.clone(),
        sign_in,
        method,
        ports.directory.clone(),
        events.clone(),
        config,
    ))
}

/// The embedded mode's first start adds a user `demo` so that a newcomer
/// can talk to the skill at once.
async fn add_demo_user_on_first_start(
    store: &SqlStore,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<()> {
    let users = LocalUsers::new(Arc::new(store.clone()), clock);
    if users.list().await.context("cannot read users")?.is_empty() {
        match users.add("demo", "demo@example.com", None).await {
            Ok(_) => info!("first start: added the user demo (demo@example.com)"),
            // Another server starting on the same new database added it
            // between our look and our insert.
            Err(pod_adapters_local::UserError::Taken) => {}
            Err(error) => return Err(error).context("cannot add the demo user"),
        }
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    info!("shutting down");
}

/// The progressive responses of `/alexa`, unless `POD_PROGRESSIVE_AFTER` is
/// `off`: Alexa's directive service, at Amazon's API hosts (and the test
/// endpoint, when one is configured).
fn progressive_responses(
    settings: &Settings,
) -> anyhow::Result<Option<pod_adapters_http::ProgressiveResponses>> {
    let Some(after) = settings.progressive_after else {
        return Ok(None);
    };
    let mut client = pod_alexa::directives::DirectiveClient::new(settings.progressive_timeout)?;
    if let Some(endpoint) = &settings.alexa_api_test_endpoint {
        client = client
            .with_test_endpoint(endpoint)
            .context("POD_ALEXA_API_TEST_ENDPOINT")?;
    }
    Ok(Some(pod_adapters_http::ProgressiveResponses::new(
        Arc::new(client),
        after,
        settings.progressive_timeout,
    )))
}
