//! Handler tests of the web app at `/app`, without a socket (`oneshot`):
//! real embedded adapters over a SQLite file (sessions, users, codes), a
//! clock the test moves, and for OpenID Connect the real `Auth0Oidc` against
//! a wiremock Auth0.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use pod_adapters_auth0::Auth0Adapters;
use pod_adapters_auth0::fake::{self, FakeAlgorithm, FakeAuth0, sign_hs256};
use pod_adapters_http::{
    HttpConfig, HttpState, LiveEvents, Metrics, PrivacyPolicy, SignInMethod, WebApp, WebAppConfig,
};
use pod_adapters_local::{
    CodeHashKey, LocalAccessTokens, LocalCodes, LocalCodesConfig, LocalDirectory, LocalTokenConfig,
    LocalTokenKey, LocalUsers, Outbox, UuidOrderIds,
};
use pod_adapters_sql::SqlStore;
use pod_alexa::verify::{RequestVerifier, VerifierConfig, VerifyMode};
use pod_domain::{ConfirmationPolicy, CustomerId, Pizza, PizzaSize, Timestamp, Topping};
use pod_ports::{
    AccountStore, MockOrderEvents, OneTimeCode, OrderingService, Passwordless, Ports, Session,
    SessionId, SessionStore, SignInService, StoreError, WebLogin,
};
use serde_json::json;
use tower::ServiceExt;

use crate::support::{CODE, WRONG, fixed_code, test_clock};

#[path = "app_language.rs"]
mod language;
use pod_ports::testing::ManualClock;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The session store over SQLite, counting the writes that reach it.
struct CountingSessions {
    inner: Arc<SqlStore>,
    writes: AtomicUsize,
}

impl CountingSessions {
    fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl SessionStore for CountingSessions {
    async fn create_session(
        &self,
        customer: Option<CustomerId>,
        pending: Option<String>,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(SessionId, Session), StoreError> {
        self.wrote();
        self.inner
            .create_session(customer, pending, now, expires_at)
            .await
    }

    async fn session(&self, id: &SessionId, now: Timestamp) -> Result<Option<Session>, StoreError> {
        self.inner.session(id, now).await
    }

    async fn set_pending(&self, id: &SessionId, pending: Option<String>) -> Result<(), StoreError> {
        self.wrote();
        self.inner.set_pending(id, pending).await
    }

    async fn rotate_session(
        &self,
        id: &SessionId,
        customer: &CustomerId,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(SessionId, Session), StoreError> {
        self.wrote();
        self.inner
            .rotate_session(id, customer, now, expires_at)
            .await
    }

    async fn delete_session(&self, id: &SessionId) -> Result<(), StoreError> {
        self.wrote();
        self.inner.delete_session(id).await
    }
}

struct Env {
    router: Router,
    clock: Arc<ManualClock>,
    store: Arc<SqlStore>,
    /// The web app's session store (`store`, its writes counted).
    sessions: Arc<CountingSessions>,
    service: OrderingService,
    /// The same service, publishing nowhere: its changes reach the pages
    /// only through a snapshot (as when a notification from another server
    /// was lost).
    unheard: OrderingService,
    events: LiveEvents,
    demo: CustomerId,
    _dir: tempfile::TempDir,
}

/// A response, read whole.
struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The `name=value` pair of the cookie `name` this response sets, if any.
    fn cookie_pair(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(|v| v.split(';').next().unwrap_or("").to_owned())
    }

    /// The `pod_session=value` pair this response sets, if any: a `Cookie`
    /// header for the requests of that session.
    fn session_cookie(&self) -> Option<String> {
        self.cookie_pair("pod_session")
    }

    /// The `pod_csrf=value` pair this response sets, if any.
    fn csrf_cookie(&self) -> Option<String> {
        self.cookie_pair("pod_csrf")
    }

    /// The `Set-Cookie` header of the cookie `name`.
    fn set_cookie_of(&self, name: &str) -> String {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .unwrap_or("")
            .to_owned()
    }

    /// The value of the first hidden `csrf` field (or, on the OpenID
    /// Connect sign-in page, of the login link's `csrf`).
    fn csrf(&self) -> String {
        let (at, len) = ["name=\"csrf\" value=\"", "/login?csrf="]
            .iter()
            .find_map(|needle| Some((self.body.find(needle)?, needle.len())))
            .expect("a csrf field");
        let rest = &self.body[at + len..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

async fn env_with(method: Option<SignInMethod>, config: WebAppConfig) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let clock = test_clock();
    let store = Arc::new(
        SqlStore::open_sqlite(&dir.path().join("pod.db"))
            .await
            .unwrap(),
    );
    let users = LocalUsers::new(store.clone(), clock.clone());
    let demo = users
        .add("demo", "demo@example.com", Some("+15550100123"))
        .await
        .unwrap()
        .id;
    let key = LocalTokenKey::from_bytes(&[7; 32]).unwrap();
    let tokens = Arc::new(LocalAccessTokens::new(
        &key,
        LocalTokenConfig::default(),
        clock.clone(),
    ));
    let policy = ConfirmationPolicy::default();
    let codes = Arc::new(
        LocalCodes::new(
            fixed_code(),
            clock.clone(),
            policy.code_lifetime(),
            vec![Arc::new(Outbox::in_data_dir(dir.path()))],
            LocalCodesConfig::from_policy(&policy, CodeHashKey::new(b"test code hash key")),
        )
        .unwrap(),
    );
    let events = LiveEvents::default();
    let directory = Arc::new(LocalDirectory::new(store.clone()));
    let ports = Ports {
        tokens,
        directory: directory.clone(),
        codes: codes.clone(),
        store: store.clone(),
        events: Arc::new(events.clone()),
        clock: clock.clone(),
        ids: Arc::new(UuidOrderIds),
    };
    let mut nowhere = MockOrderEvents::new();
    nowhere.expect_publish().returning(|_| ());
    let unheard = OrderingService::new(
        Ports {
            events: Arc::new(nowhere),
            ..ports.clone()
        },
        policy,
    );
    let service = OrderingService::new(ports, policy);
    let sign_in =
        SignInService::new(store.clone(), clock.clone(), policy).with_passwordless(Passwordless {
            users: store.clone(),
            directory: directory.clone(),
            codes,
        });
    let sessions = Arc::new(CountingSessions {
        inner: store.clone(),
        writes: AtomicUsize::new(0),
    });
    let web = WebApp::new(
        sessions.clone(),
        sign_in,
        method.unwrap_or(SignInMethod::Passwordless),
        directory,
        events.clone(),
        config,
    );
    let state = HttpState::new(
        service.clone(),
        RequestVerifier::new(VerifierConfig::new(VerifyMode::Off)).unwrap(),
        clock.clone(),
        store.clone(),
        Metrics::new(),
        HttpConfig::default(),
    )
    .with_web_app(web);
    Env {
        router: pod_adapters_http::router(state),
        clock,
        store,
        sessions,
        service,
        unheard,
        events,
        demo,
        _dir: dir,
    }
}

async fn env() -> Env {
    env_with(None, WebAppConfig::default()).await
}

impl Env {
    async fn send(&self, request: Request<Body>) -> Page {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Page {
        let mut request = Request::get(path);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::from(body)).unwrap()).await
    }

    /// Asks for a sign-in code for `login` as the visitor with the cookies
    /// `cookie`; adds the sign-in session's cookie when one is made.
    async fn ask_code(&self, cookie: &mut String, csrf: &str, login: &str) -> Page {
        let page = self
            .post(
                "/app/sign-in",
                Some(cookie),
                &[("csrf", csrf), ("login", login)],
            )
            .await;
        if let Some(session) = page.session_cookie() {
            *cookie = format!("{cookie}; {session}");
        }
        page
    }

    /// Enters `code` as the visitor with the cookies `cookie`.
    async fn enter_code(&self, cookie: &str, csrf: &str, code: &str) -> Page {
        self.post(
            "/app/sign-in/code",
            Some(cookie),
            &[("csrf", csrf), ("code", code)],
        )
        .await
    }

    /// Opens `/app/events` for the session `cookie`: the response, its
    /// body unread.
    async fn open_events(&self, cookie: &str) -> axum::response::Response {
        let request = Request::get("/app/events")
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap();
        self.router.clone().oneshot(request).await.unwrap()
    }

    /// Opens the sign-in page: the visitor's cookies (only the CSRF cookie:
    /// nothing is stored yet) and the forms' token.
    async fn start(&self) -> (String, String) {
        let page = self.get("/app/sign-in", None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.session_cookie().is_none(),
            "no session for a page view"
        );
        (page.csrf_cookie().unwrap(), page.csrf())
    }

    /// Signs `demo` in; the signed-in session's cookie and CSRF token.
    async fn sign_in(&self) -> (String, String) {
        let (mut cookie, csrf) = self.start().await;
        let sent = self.ask_code(&mut cookie, &csrf, "demo").await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER);
        let done = self.enter_code(&cookie, &csrf, CODE).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        let cookie = done.session_cookie().unwrap();
        let page = self.get("/app", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK);
        (cookie, page.csrf())
    }

    async fn place_order(&self) {
        let pizza = Pizza::new(PizzaSize::Large, [Topping::Pepperoni]).unwrap();
        self.service
            .place_order_for(&self.demo, pizza)
            .await
            .unwrap();
    }
}

fn assert_security_headers(page: &Page) {
    let h = |name| {
        page.headers
            .get(name)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let csp = h("content-security-policy");
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(h("x-content-type-options"), "nosniff");
    assert_eq!(h("referrer-policy"), "same-origin");
}

/// The next whole event of a stream (up to its blank line), within 5 s.
async fn next_event(body: &mut Body) -> String {
    let mut text = String::new();
    while !text.contains("\n\n") {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("an event in time")
            .unwrap()
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    text
}

/// Every `src`/`href`/`action` is a path on pod (or a fragment).
fn assert_no_third_party_urls(body: &str) {
    for attr in ["src=\"", "href=\"", "action=\""] {
        for (at, _) in body.match_indices(attr) {
            let value = &body[at + attr.len()..];
            let value = &value[..value.find('"').unwrap()];
            assert!(
                value.starts_with('/') || value.starts_with('#'),
                "{attr}{value}"
            );
        }
    }
    assert!(!body.contains("http://") && !body.contains("https://"));
}

// ------------------------------------------------------------ sign-in

#[tokio::test]
async fn the_orders_page_sends_strangers_to_sign_in() {
    let env = env().await;
    let page = env.get("/app", None).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/app/sign-in");
    assert_security_headers(&page);
}

/// Every page an anonymous visitor can ask for, and a few they may try.
const ANONYMOUS_PAGES: [&str; 9] = [
    "/app/sign-in",
    "/app/sign-in?notice=signed-out",
    "/app",
    "/app/",
    "/app/profile",
    "/app/privacy",
    "/app/events",
    "/app/login",
    "/app/nowhere",
];

#[tokio::test]
async fn anonymous_page_views_write_nothing() {
    let env = env().await;
    let (csrf_cookie, _) = env.start().await;
    for cookie in [
        None,
        // A returning visitor, one with a session that is gone or forged,
        // and garbage.
        Some(csrf_cookie.as_str()),
        Some("pod_session=gone0000000000000000000000000000000000000000"),
        Some("pod_csrf=forged; pod_session=x y"),
    ] {
        for _ in 0..5 {
            for path in ANONYMOUS_PAGES {
                let page = env.get(path, cookie).await;
                assert!(page.status.as_u16() < 500, "{path}: {}", page.status);
                assert!(page.session_cookie().is_none(), "{path}");
            }
        }
    }
    assert_eq!(env.sessions.writes(), 0, "no session was written");

    // Nor with OpenID Connect, where the sign-in page offers a login.
    let (oidc, server, _) = oidc_env().await;
    for _ in 0..5 {
        for path in ANONYMOUS_PAGES {
            let page = oidc.get(path, None).await;
            assert!(page.status.as_u16() < 500, "{path}: {}", page.status);
            assert!(page.session_cookie().is_none(), "{path}");
        }
    }
    assert_eq!(oidc.sessions.writes(), 0, "no session was written");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn sign_in_forms_without_a_matching_csrf_cookie_are_refused_and_write_nothing() {
    let env = env().await;
    let (cookie, csrf) = env.start().await;
    let (other_cookie, other_csrf) = env.start().await;
    assert_ne!(csrf, other_csrf);
    let cases: [(Option<&str>, Option<&str>); 7] = [
        // The token, but no cookie (cookies off, or another site's post).
        (None, Some(&csrf)),
        // The cookie, but no token.
        (Some(&cookie), None),
        (Some(&cookie), Some("forged")),
        (Some(&cookie), Some("")),
        // Each from another visitor.
        (Some(&cookie), Some(&other_csrf)),
        (Some(&other_cookie), Some(&csrf)),
        (Some("pod_csrf="), Some("")),
    ];
    for path in ["/app/sign-in", "/app/sign-in/code", "/app/sign-in/restart"] {
        for (cookie, token) in cases {
            let mut form = vec![("login", "demo"), ("code", CODE)];
            if let Some(token) = token {
                form.push(("csrf", token));
            }
            let page = env.post(path, cookie, &form).await;
            assert_eq!(
                page.status,
                StatusCode::FORBIDDEN,
                "{path} {cookie:?} {token:?}"
            );
            assert!(page.body.contains("This form has expired"), "{}", page.body);
            assert!(page.body.contains("pod did not act on it"), "{}", page.body);
            assert!(page.session_cookie().is_none());
            assert_security_headers(&page);
        }
    }
    assert_eq!(env.sessions.writes(), 0, "no session was written");
    let account = env.store.load_account(&env.demo).await.unwrap();
    assert!(
        account.sign_in_sends().times().is_empty(),
        "no code was sent"
    );

    // The matching pair is acted on: the sign-in session is the first write.
    let mut cookie = cookie;
    let sent = env.ask_code(&mut cookie, &csrf, "demo").await;
    assert_eq!(sent.location(), "/app/sign-in");
    assert!(sent.session_cookie().is_some());
    assert_eq!(env.sessions.writes(), 1);
}

#[tokio::test]
async fn the_sign_in_page_sets_a_strict_csrf_cookie_and_makes_no_session() {
    let env = env().await;
    let page = env.get("/app/sign-in", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.session_cookie().is_none(),
        "no session for a page view"
    );
    let cookie = page.set_cookie_of("pod_csrf");
    for part in ["Path=/app", "HttpOnly", "SameSite=Lax", "Max-Age=900"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    assert!(!cookie.contains("Domain"), "host-only: {cookie}");
    assert!(page.body.contains("User name or email"));
    assert_eq!(page.csrf().len(), 43, "256 bits");
    assert_eq!(
        page.csrf_cookie().unwrap(),
        format!("pod_csrf={}", page.csrf()),
        "the form's token is the cookie's"
    );
    assert_security_headers(&page);
    assert_eq!(page.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");

    // The browser's token is kept (another tab's form stays good); a
    // malformed one is replaced.
    let cookie = page.csrf_cookie().unwrap();
    let again = env.get("/app/sign-in", Some(&cookie)).await;
    assert_eq!(again.csrf(), page.csrf());
    assert_eq!(again.csrf_cookie().unwrap(), cookie, "refreshed");
    let other = env.get("/app/sign-in", None).await;
    assert_ne!(other.csrf(), page.csrf(), "random");
    let bad = env.get("/app/sign-in", Some("pod_csrf=x y")).await;
    assert_eq!(bad.csrf().len(), 43);
}

#[tokio::test]
async fn cookies_are_secure_and_scoped_to_the_base_path_when_configured() {
    let env = env_with(
        None,
        WebAppConfig {
            base_path: "/pod".into(),
            secure_cookie: true,
            ..WebAppConfig::default()
        },
    )
    .await;
    let page = env.get("/app/sign-in", None).await;
    assert!(page.body.contains("action=\"/pod/app/sign-in\""));
    // Over HTTPS the CSRF cookie is `__Host-` (Secure, Path=/, no Domain):
    // no other host, not even a sibling subdomain, can plant one.
    let csrf = page.set_cookie_of("__Host-pod_csrf");
    for part in ["Path=/;", "; Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(csrf.contains(part), "{csrf}");
    }
    assert!(!csrf.contains("Domain"), "{csrf}");
    assert!(page.csrf_cookie().is_none(), "{csrf}");
    let mut cookie = page.cookie_pair("__Host-pod_csrf").unwrap();
    let sent = env.ask_code(&mut cookie, &page.csrf(), "demo").await;
    assert_eq!(sent.location(), "/pod/app/sign-in", "{}", sent.body);
    let session = sent.set_cookie_of("pod_session");
    assert!(session.contains("Path=/pod/app;"), "{session}");
    assert!(session.contains("; Secure"), "{session}");
    // The plain name does not pass for the secure one.
    let plain = format!("pod_csrf={}", page.csrf());
    let refused = env
        .post(
            "/app/sign-in",
            Some(&plain),
            &[("csrf", &page.csrf()), ("login", "demo")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_code_from_the_outbox_signs_in_and_rotates_the_session() {
    let env = env().await;
    let (mut anonymous, csrf) = env.start().await;
    let sent = env
        .ask_code(&mut anonymous, &csrf, "DEMO@example.com")
        .await;
    assert_eq!(sent.location(), "/app/sign-in");
    let anonymous_session = sent
        .session_cookie()
        .expect("the sign-in session, made now");
    let code_page = env.get("/app/sign-in", Some(&anonymous)).await;
    assert!(code_page.body.contains("name=\"code\""), "the code form");
    let done = env.enter_code(&anonymous, &csrf, CODE).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), "/app?notice=signed-in");
    let signed_in = done.session_cookie().unwrap();
    assert_ne!(signed_in, anonymous_session, "rotated on sign-in");
    assert!(
        done.set_cookie_of("pod_csrf").contains("Max-Age=0"),
        "the CSRF cookie goes: the session has a token of its own"
    );
    let page = env.get("/app", Some(&signed_in)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Your orders"));
    assert_ne!(page.csrf(), csrf, "a new CSRF token");
    // The anonymous session is gone.
    let old = env.get("/app", Some(&anonymous)).await;
    assert_eq!(old.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_replayed_code_form_does_nothing() {
    let env = env().await;
    let (mut anonymous, csrf) = env.start().await;
    env.ask_code(&mut anonymous, &csrf, "demo").await;
    let first = env.enter_code(&anonymous, &csrf, CODE).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let again = env.enter_code(&anonymous, &csrf, CODE).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert!(again.session_cookie().is_none());

    // The used code does not sign in a fresh sign-in either.
    let (mut cookie, csrf) = env.start().await;
    env.ask_code(&mut cookie, &csrf, "demo").await;
    // The fixed code generator draws the same digits, so consume the new code first.
    env.enter_code(&cookie, &csrf, CODE).await;
    let replay = env.enter_code(&cookie, &csrf, CODE).await;
    assert_eq!(replay.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_unknown_login_looks_like_a_known_one() {
    let env = env().await;
    let mut pages = Vec::new();
    for login in ["demo", "nobody"] {
        let (mut cookie, csrf) = env.start().await;
        let sent = env.ask_code(&mut cookie, &csrf, login).await;
        let page = env.get("/app/sign-in", Some(&cookie)).await;
        let wrong = env.enter_code(&cookie, &csrf, WRONG).await;
        let strip = |p: &Page| p.body.replace(&csrf, "");
        pages.push((
            sent.status,
            sent.location().to_owned(),
            strip(&page),
            wrong.status,
            strip(&wrong),
        ));
    }
    assert_eq!(pages[0], pages[1]);
}

#[tokio::test]
async fn wrong_codes_are_limited_as_in_the_voice_flow() {
    let env = env().await;
    let (mut cookie, csrf) = env.start().await;
    env.ask_code(&mut cookie, &csrf, "demo").await;
    let attempt = async |code| env.enter_code(&cookie, &csrf, code).await;
    let first = attempt(WRONG).await;
    assert_eq!(first.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(first.body.contains("not right"));
    attempt(WRONG).await;
    let third = attempt(WRONG).await;
    assert!(third.body.contains("wrong too often"), "{}", third.body);
    // The code is dead now, even the right one: back to step one.
    let right = attempt(CODE).await;
    assert_eq!(right.location(), "/app/sign-in");
    assert!(right.session_cookie().is_none(), "not signed in");
    let sent = env
        .post(
            "/app/sign-in",
            Some(&cookie),
            &[("csrf", &csrf), ("login", "demo")],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let malformed = attempt("12ab").await;
    assert_eq!(malformed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(malformed.body.contains("digits only"));
}

#[tokio::test]
async fn starting_over_forgets_the_sign_in_session() {
    let env = env().await;
    let (mut cookie, csrf) = env.start().await;
    env.ask_code(&mut cookie, &csrf, "demo").await;
    let restarted = env
        .post("/app/sign-in/restart", Some(&cookie), &[("csrf", &csrf)])
        .await;
    assert_eq!(restarted.location(), "/app/sign-in");
    assert!(restarted.set_cookie_of("pod_session").contains("Max-Age=0"));
    let page = env.get("/app/sign-in", Some(&cookie)).await;
    assert!(page.body.contains("name=\"login\""), "the first step again");
    // The code asked for no longer signs in from that session.
    let code = env.enter_code(&cookie, &csrf, CODE).await;
    assert_eq!(code.status, StatusCode::FORBIDDEN);
    // Asking again starts a new one.
    let mut fresh = page.csrf_cookie().unwrap();
    let sent = env.ask_code(&mut fresh, &page.csrf(), "demo").await;
    assert_eq!(sent.location(), "/app/sign-in");
    assert!(sent.session_cookie().is_some());
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let env = env().await;
    let (mut cookie, csrf) = env.start().await;
    env.ask_code(&mut cookie, &csrf, "demo").await;
    env.clock.advance(Duration::from_secs(6 * 60));
    let page = env.enter_code(&cookie, &csrf, CODE).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("expired"), "{}", page.body);
    assert!(page.session_cookie().is_none());
}

#[tokio::test]
async fn sign_in_codes_do_not_spend_the_voice_order_budget() {
    let env = env().await;
    for _ in 0..ConfirmationPolicy::default().max_codes_per_hour() {
        env.place_order().await;
    }
    let (mut cookie, csrf) = env.start().await;
    let sent = env.ask_code(&mut cookie, &csrf, "demo").await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let account = env.store.load_account(&env.demo).await.unwrap();
    assert_eq!(account.order_sends().times().len(), 5);
    assert_eq!(
        account.sign_in_sends().times().len(),
        1,
        "the code went out"
    );
}

#[tokio::test]
async fn wrong_sign_in_codes_lock_the_account_and_a_locked_account_gets_no_code() {
    let env = env().await;
    let lockout_after = ConfirmationPolicy::default().lockout_after();
    let mut wrong_codes = 0;
    while wrong_codes < lockout_after {
        let (mut cookie, csrf) = env.start().await;
        env.ask_code(&mut cookie, &csrf, "demo").await;
        for _ in 0..ConfirmationPolicy::default().max_failed_attempts() {
            if wrong_codes == lockout_after {
                break;
            }
            env.enter_code(&cookie, &csrf, "0000").await;
            wrong_codes += 1;
        }
    }
    let account = env.store.load_account(&env.demo).await.unwrap();
    assert_eq!(account.lockout().consecutive_failures, lockout_after);
    let sends = account.sign_in_sends().times().len();
    // Locked: asking again sends nothing, and the page says why.
    let (mut cookie, csrf) = env.start().await;
    let page = env.ask_code(&mut cookie, &csrf, "demo").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/app/sign-in?notice=not-sent-locked");
    let account = env.store.load_account(&env.demo).await.unwrap();
    assert_eq!(account.sign_in_sends().times().len(), sends);
    let shown = env
        .get("/app/sign-in?notice=not-sent-locked", Some(&cookie))
        .await;
    assert!(shown.body.contains("No code was sent"), "{}", shown.body);
}

#[tokio::test]
async fn state_changes_need_the_csrf_token() {
    let env = env().await;
    let (cookie, csrf) = env.sign_in().await;
    for path in [
        "/app/orders/clear",
        "/app/sign-out",
        "/app/sign-in/code",
        "/app/sign-in",
    ] {
        for form in [vec![], vec![("csrf", "forged")]] {
            let page = env.post(path, Some(&cookie), &form).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path} {form:?}");
            assert_security_headers(&page);
        }
        let page = env.post(path, None, &[("csrf", &csrf)]).await;
        assert_eq!(
            page.status,
            StatusCode::FORBIDDEN,
            "{path} without a session"
        );
    }
    // Still signed in.
    assert_eq!(env.get("/app", Some(&cookie)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_expired_session_is_signed_out() {
    let env = env().await;
    let (cookie, csrf) = env.sign_in().await;
    env.clock.advance(Duration::from_secs(8 * 60 * 60));
    let page = env.get("/app", Some(&cookie)).await;
    assert_eq!(page.location(), "/app/sign-in");
    let clear = env
        .post("/app/orders/clear", Some(&cookie), &[("csrf", &csrf)])
        .await;
    assert_eq!(clear.status, StatusCode::FORBIDDEN);
    assert_eq!(
        env.get("/app/events", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn signing_out_deletes_the_session() {
    let env = env().await;
    let (cookie, csrf) = env.sign_in().await;
    let out = env
        .post("/app/sign-out", Some(&cookie), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.location(), "/app/sign-in?notice=signed-out");
    assert!(out.set_cookie_of("pod_session").contains("Max-Age=0"));
    assert_eq!(
        env.get("/app", Some(&cookie)).await.status,
        StatusCode::SEE_OTHER
    );
}

// ------------------------------------------------------------ pages

#[tokio::test]
async fn the_orders_page_shows_pending_and_confirmed_orders_and_clears() {
    let env = env().await;
    let (cookie, csrf) = env.sign_in().await;
    let empty = env.get("/app", Some(&cookie)).await;
    assert!(empty.body.contains("No order is waiting"));
    env.place_order().await;
    let page = env.get("/app", Some(&cookie)).await;
    assert!(page.body.contains("Large pizza"));
    assert!(page.body.contains("with pepperoni"));
    assert!(page.body.contains("your phone"));
    assert!(page.body.contains("***23"), "masked destination");
    assert!(!page.body.contains("+15550100123"));
    assert!(page.body.contains("5 min 00 s"), "time left");
    assert_no_third_party_urls(&page.body);

    let outcome = env
        .service
        .confirm_order_for(&env.demo, &OneTimeCode::parse(CODE).unwrap())
        .await
        .unwrap();
    assert!(matches!(outcome, pod_ports::ConfirmOutcome::Confirmed(_)));
    let page = env.get("/app", Some(&cookie)).await;
    assert!(page.body.contains("data-state=\"confirmed\""));
    assert!(page.body.contains("Clear confirmed orders"));

    let cleared = env
        .post("/app/orders/clear", Some(&cookie), &[("csrf", &csrf)])
        .await;
    assert_eq!(cleared.location(), "/app?notice=cleared");
    let page = env.get("/app?notice=cleared", Some(&cookie)).await;
    assert!(page.body.contains("No confirmed orders."));
    assert!(page.body.contains("Your confirmed orders are cleared."));
}

#[tokio::test]
async fn the_profile_shows_contact_points_partly_masked() {
    let env = env().await;
    let (cookie, _) = env.sign_in().await;
    let page = env.get("/app/profile", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("demo@example.com"));
    assert!(page.body.contains("+1 ••• ••• ••23"));
    assert!(!page.body.contains("0100123"));
    assert!(page.body.contains("text message"));
    assert_no_third_party_urls(&page.body);
    assert_eq!(
        env.get("/app/profile", None).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn the_privacy_policy_is_public_and_replaceable() {
    let env = env().await;
    let page = env.get("/app/privacy", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("What pod stores"));
    assert_no_third_party_urls(&page.body);

    let text = env_with(
        None,
        WebAppConfig {
            privacy_policy: PrivacyPolicy::Text("# Our policy\n\nWe keep <nothing>.".into()),
            ..WebAppConfig::default()
        },
    )
    .await;
    let page = text.get("/app/privacy", None).await;
    assert!(page.body.contains("<h2>Our policy</h2>"));
    assert!(page.body.contains("We keep &lt;nothing&gt;."));
    assert!(!page.body.contains("What pod stores"));

    let html = env_with(
        None,
        WebAppConfig {
            privacy_policy: PrivacyPolicy::Html("<h1>Operator's policy</h1>".into()),
            ..WebAppConfig::default()
        },
    )
    .await;
    let page = html.get("/app/privacy", None).await;
    assert!(page.body.contains("<h1>Operator's policy</h1>"));
}

#[tokio::test]
async fn assets_are_served_with_cache_headers() {
    let env = env().await;
    let page = env.get("/app/sign-in", None).await;
    let at = page.body.find("/app/assets/app.").unwrap();
    let css = &page.body[at..];
    let css = &css[..css.find('"').unwrap()];
    let asset = env.get(css, None).await;
    assert_eq!(asset.status, StatusCode::OK);
    assert_eq!(
        asset.headers.get(header::CACHE_CONTROL).unwrap(),
        "public, max-age=31536000, immutable"
    );
    assert!(
        asset
            .headers
            .get(header::CONTENT_TYPE)
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(!asset.body.contains("http"), "no third-party URLs in CSS");
    let js = env.get("/app/assets/app.js", None).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.body.contains("EventSource"));
    assert!(!js.body.contains("http"));
    assert_eq!(
        env.get("/app/assets/app.0000.css", None).await.status,
        StatusCode::NOT_FOUND
    );
    let missing = env.get("/app/nowhere", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_security_headers(&missing);
}

#[tokio::test]
async fn the_event_stream_opens_with_the_orders_and_follows_changes() {
    let env = env().await;
    let (cookie, _) = env.sign_in().await;
    let response = env.open_events(&cookie).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get(header::CONTENT_TYPE).unwrap(),
        "text/event-stream"
    );
    let mut body = response.into_body();
    let first = next_event(&mut body).await;
    assert!(first.contains("event: orders"), "{first}");
    assert!(first.contains("No order is waiting"));
    env.place_order().await;
    let second = next_event(&mut body).await;
    assert!(second.contains("Large pizza"), "{second}");
}

#[tokio::test]
async fn the_event_stream_sends_a_fresh_snapshot_on_resync() {
    let env = env().await;
    let (cookie, _) = env.sign_in().await;
    let response = env.open_events(&cookie).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let first = next_event(&mut body).await;
    assert!(first.contains("No order is waiting"), "{first}");
    // An order whose event never reaches this hub (lost on the way from
    // another server), then the hub's resync: the stream reloads and shows
    // it.
    let pizza = Pizza::new(PizzaSize::Large, [Topping::Pepperoni]).unwrap();
    env.unheard.place_order_for(&env.demo, pizza).await.unwrap();
    env.events.resync();
    let second = next_event(&mut body).await;
    assert!(second.contains("event: orders"), "{second}");
    assert!(second.contains("Large pizza"), "{second}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_sign_in_brake_counts_the_forwarded_address() {
    let env = env_with(
        None,
        WebAppConfig {
            trust_forwarded_for: true,
            ..WebAppConfig::default()
        },
    )
    .await;
    let start_from = async |address: &str| {
        let (cookie, csrf) = env.start().await;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("csrf", csrf.as_str()), ("login", "nobody")])
            .finish();
        let request = Request::post("/app/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie)
            // The first entry is the client's own claim; the proxy appended the last.
            .header("x-forwarded-for", format!("198.51.100.1, {address}"))
            .body(Body::from(body))
            .unwrap();
        env.send(request).await.location().to_owned()
    };
    for _ in 0..20 {
        assert_eq!(start_from("203.0.113.5").await, "/app/sign-in");
    }
    assert_eq!(
        start_from("203.0.113.5").await,
        "/app/sign-in?notice=not-sent-address"
    );
    assert_eq!(start_from("203.0.113.6").await, "/app/sign-in");
}

#[tokio::test]
async fn the_event_stream_ends_at_shutdown() {
    let env = env().await;
    let (cookie, _) = env.sign_in().await;
    let response = env.open_events(&cookie).await;
    let mut body = response.into_body();
    // The first snapshot, then the shutdown: the body ends (no frame left),
    // so a graceful shutdown does not wait on it.
    next_event(&mut body).await;
    env.events.shutdown();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("the stream ends in time");
        match frame {
            None => break,
            Some(frame) => {
                let data = frame.unwrap().into_data().unwrap_or_default();
                let text = String::from_utf8_lossy(&data);
                assert!(
                    !text.contains("event: orders"),
                    "no snapshot after shutdown: {text}"
                );
            }
        }
    }
}

// ------------------------------------------------------------ OIDC

async fn oidc_env() -> (Env, MockServer, Arc<dyn WebLogin>) {
    let fake = FakeAuth0::start().await;
    let server = MockServer::start().await;
    let config = fake
        .config(FakeAlgorithm::Hs256, FakeAlgorithm::Hs256)
        .with_base_url(&server.uri())
        .unwrap();
    let login: Arc<dyn WebLogin> = Auth0Adapters::new(config).unwrap().oidc;
    let method = SignInMethod::Oidc {
        login: login.clone(),
        redirect_uri: "https://pod.example/app/callback".into(),
        post_logout_uri: "https://pod.example/app/sign-in".into(),
    };
    (
        env_with(Some(method), WebAppConfig::default()).await,
        server,
        login,
    )
}

fn id_token(sub: &str, nonce: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    sign_hs256(
        fake::CLIENT_SECRET.as_bytes(),
        &json!({
            "iss": format!("https://{}/", fake::DOMAIN), "aud": fake::CLIENT_ID,
            "sub": sub, "nonce": nonce, "iat": now, "exp": now + 600,
        }),
    )
}

/// Starts a login from the sign-in page: the sign-in session's cookie and
/// the authorize URL's query.
async fn begin(env: &Env) -> (String, BTreeMap<String, String>) {
    let (cookie, csrf) = env.start().await;
    let page = env
        .get(&format!("/app/login?csrf={csrf}"), Some(&cookie))
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let url = url::Url::parse(page.location()).unwrap();
    assert_eq!(url.path(), "/authorize");
    let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    (page.session_cookie().unwrap(), query)
}

/// Makes the mock Auth0 answer every code exchange with `id_token`.
async fn token_endpoint_answers(server: &MockServer, id_token: String) {
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id_token": id_token })))
        .mount(server)
        .await;
}

/// The provider sending the browser of session `cookie` back with a code and
/// `state`.
async fn callback(env: &Env, state: &str, cookie: &str) -> Page {
    let uri = format!("/app/callback?code=c0de&state={state}");
    env.get(&uri, Some(cookie)).await
}

#[tokio::test]
async fn oidc_sign_in_uses_pkce_state_and_nonce_and_rotates_the_session() {
    let (env, server, _) = oidc_env().await;
    let sign_in = env.get("/app/sign-in", None).await;
    assert!(sign_in.body.contains("/app/login"));
    let (cookie, q) = begin(&env).await;
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], "https://pod.example/app/callback");
    token_endpoint_answers(&server, id_token("auth0|alice", &q["nonce"])).await;
    let done = callback(&env, &q["state"], &cookie).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/app?notice=signed-in");
    let signed_in = done.session_cookie().unwrap();
    assert_ne!(signed_in, cookie);
    let page = env.get("/app", Some(&signed_in)).await;
    assert_eq!(page.status, StatusCode::OK);
    // The callback works once.
    let again = callback(&env, &q["state"], &cookie).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);

    let out = env
        .post("/app/sign-out", Some(&signed_in), &[("csrf", &page.csrf())])
        .await;
    let logout = url::Url::parse(out.location()).unwrap();
    assert_eq!(logout.path(), "/oidc/logout");
    // The signed-in page lets its sign-out form redirect to the provider
    // (browsers apply `form-action` to a form's redirects), and only there.
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    let form_action = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("form-action"))
        .unwrap();
    assert_eq!(
        form_action,
        format!(
            "form-action 'self' {}",
            logout.origin().ascii_serialization()
        )
    );
    let q: BTreeMap<String, String> = logout.query_pairs().into_owned().collect();
    assert_eq!(
        q["post_logout_redirect_uri"],
        "https://pod.example/app/sign-in"
    );
    assert_eq!(
        env.get("/app", Some(&signed_in)).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn oidc_callbacks_with_a_bad_state_or_nonce_are_refused() {
    let (env, server, _) = oidc_env().await;
    let (cookie, _) = begin(&env).await;
    let forged = env
        .get("/app/callback?code=c0de&state=forged", Some(&cookie))
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    assert!(forged.session_cookie().is_none());
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        0,
        "a bad state never reaches Auth0"
    );

    let (cookie, q) = begin(&env).await;
    token_endpoint_answers(&server, id_token("auth0|alice", "another-nonce")).await;
    let bad_nonce = callback(&env, &q["state"], &cookie).await;
    assert_eq!(bad_nonce.status, StatusCode::BAD_REQUEST);
    assert!(bad_nonce.session_cookie().is_none());

    let none = env.get("/app/callback?code=c0de&state=x", None).await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST, "no session");
    let (cookie, _) = begin(&env).await;
    let refused = env
        .get("/app/callback?error=access_denied", Some(&cookie))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    // Passwordless forms do not exist in this mode.
    assert_eq!(
        env.post("/app/sign-in", None, &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn an_oidc_login_starts_only_with_the_csrf_cookie_and_token() {
    let (env, server, _) = oidc_env().await;
    let (cookie, csrf) = env.start().await;
    let (_, other_csrf) = env.start().await;
    for (cookie, query) in [
        (None, format!("?csrf={csrf}")),
        (Some(cookie.as_str()), "?csrf=forged".to_owned()),
        (Some(cookie.as_str()), format!("?csrf={other_csrf}")),
    ] {
        let page = env.get(&format!("/app/login{query}"), cookie).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{cookie:?} {query}");
        assert!(page.body.contains("This form has expired"));
    }
    // An old link without a token: the sign-in page, with the button.
    let old = env.get("/app/login", Some(&cookie)).await;
    assert_eq!(old.location(), "/app/sign-in");
    assert_eq!(env.sessions.writes(), 0, "no session was written");
    assert!(server.received_requests().await.unwrap().is_empty());

    let page = env.get("/app/sign-in", Some(&cookie)).await;
    assert!(
        page.body
            .contains(&format!("href=\"/app/login?csrf={csrf}\"")),
        "{}",
        page.body
    );
    let (session, _) = begin(&env).await;
    assert!(session.starts_with("pod_session="));
    assert_eq!(env.sessions.writes(), 1, "the login's session");
}
