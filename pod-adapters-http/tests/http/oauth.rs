//! The OAuth 2.0 authorization server (account linking), one named test
//! per check of RFC 6749, RFC 7636 (PKCE), RFC 7009 (revocation), RFC 8414
//! (metadata), RFC 6819 and RFC 9700 (the OAuth 2.0 Security BCP), through
//! the router without a socket: the real embedded adapters over a SQLite
//! file, a clock the test moves, and the access tokens checked the way
//! `pod serve` checks them (`GrantCheckedTokens`, through `/api`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http_body_util::BodyExt;
use pod_adapters_http::{
    HttpConfig, HttpState, LiveEvents, Metrics, OAuthServer, SignInMethod, WebApp, WebAppConfig,
};
use pod_adapters_local::{
    CodeHashKey, GrantCheckedTokens, LocalAccessTokens, LocalCodes, LocalCodesConfig,
    LocalDirectory, LocalTokenConfig, LocalTokenKey, LocalUsers, OsSecrets, Outbox, UuidOrderIds,
};
use pod_adapters_sql::SqlStore;
use pod_alexa::verify::{RequestVerifier, VerifierConfig, VerifyMode};
use pod_domain::{ConfirmationPolicy, CustomerId};
use pod_ports::oauth::{NewClient, OAuthConfig};
use pod_ports::testing::ManualClock;
use pod_ports::{
    Clock, OAuthService, OAuthStore, OrderingService, Passwordless, Ports, SessionStore,
    SignInService,
};
use serde_json::Value;
use tower::ServiceExt;

use crate::support::{CODE, fixed_code, test_clock};

const ISSUER: &str = "https://pod.example";
const ALEXA: &str = "https://pitangui.amazon.com/api/skill/link/M2AAAAAAAAAAAA";
const ALEXA_EU: &str = "https://layla.amazon.com/api/skill/link/M2AAAAAAAAAAAA";
const OTHER: &str = "https://other.example/callback";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct Env {
    router: Router,
    clock: Arc<ManualClock>,
    store: Arc<SqlStore>,
    /// Alexa's client secret.
    secret: String,
    /// Another registered client's secret.
    other_secret: String,
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
    fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_owned()
    }

    fn header(&self, name: header::HeaderName) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    }

    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field");
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    /// The query parameters of the redirect.
    fn redirect_params(&self) -> Vec<(String, String)> {
        let location = self.location();
        let url = url::Url::parse(&location).unwrap_or_else(|_| panic!("{location}"));
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn redirect_param(&self, name: &str) -> Option<String> {
        self.redirect_params()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let clock = test_clock();
    let store = Arc::new(
        SqlStore::open_sqlite(&dir.path().join("pod.db"))
            .await
            .unwrap(),
    );
    let users = LocalUsers::new(store.clone(), clock.clone());
    let demo = users
        .add("demo", "demo@example.com", None)
        .await
        .unwrap()
        .id;
    let key = LocalTokenKey::from_bytes(&[7; 32]).unwrap();
    let local = Arc::new(LocalAccessTokens::new(
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
        tokens: Arc::new(GrantCheckedTokens::new(local.clone(), store.clone())),
        directory: directory.clone(),
        codes: codes.clone(),
        store: store.clone(),
        events: Arc::new(events.clone()),
        clock: clock.clone(),
        ids: Arc::new(UuidOrderIds),
    };
    let sign_in =
        SignInService::new(store.clone(), clock.clone(), policy).with_passwordless(Passwordless {
            users: store.clone(),
            directory: directory.clone(),
            codes,
        });
    let web = WebApp::new(
        store.clone(),
        sign_in,
        SignInMethod::Passwordless,
        directory,
        events,
        WebAppConfig::default(),
    );
    let oauth = OAuthService::new(
        store.clone(),
        local,
        Arc::new(OsSecrets),
        clock.clone(),
        OAuthConfig::default(),
    );
    let (_, secret) = oauth
        .register_client(NewClient {
            id: "alexa".into(),
            name: "Pizza on Demand for Alexa".into(),
            redirect_uris: vec![ALEXA.into(), ALEXA_EU.into()],
        })
        .await
        .unwrap();
    let (_, other_secret) = oauth
        .register_client(NewClient {
            id: "other".into(),
            name: "Another skill".into(),
            redirect_uris: vec![OTHER.into()],
        })
        .await
        .unwrap();
    let state = HttpState::new(
        OrderingService::new(ports, policy),
        RequestVerifier::new(VerifierConfig::new(VerifyMode::Off)).unwrap(),
        clock.clone(),
        store.clone(),
        Metrics::new(),
        HttpConfig::default(),
    )
    .with_web_app(web)
    .with_oauth(OAuthServer::new(oauth, ISSUER));
    Env {
        router: pod_adapters_http::router(state),
        clock,
        store,
        secret,
        other_secret,
        demo,
        _dir: dir,
    }
}

fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// An authorization request as Alexa sends it, with PKCE and `state`.
fn alexa_request() -> Vec<(&'static str, &'static str)> {
    vec![
        ("response_type", "code"),
        ("client_id", "alexa"),
        ("redirect_uri", ALEXA),
        ("scope", "order"),
        ("state", "xyz-state-123"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

fn without<'a>(pairs: &[(&'a str, &'a str)], names: &[&str]) -> Vec<(&'a str, &'a str)> {
    pairs
        .iter()
        .filter(|(k, _)| !names.contains(k))
        .copied()
        .collect()
}

fn with<'a>(
    pairs: &[(&'a str, &'a str)],
    name: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut out = without(pairs, &[name]);
    out.push((name, value));
    out
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
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

    /// `GET path` with `Accept-Language: accept` and `cookie`.
    async fn get_in(&self, path: &str, accept: &str, cookie: Option<&str>) -> Page {
        let mut request = Request::get(path).header(header::ACCEPT_LANGUAGE, accept);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    async fn post(
        &self,
        path: &str,
        headers: &[(header::HeaderName, String)],
        form: &[(&str, &str)],
    ) -> Page {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        self.send(request.body(Body::from(query(form))).unwrap())
            .await
    }

    /// A signed-in session for `demo`: its cookie header.
    async fn signed_in(&self) -> String {
        let now = self.clock.now();
        let (id, _) = self
            .store
            .create_session(
                Some(self.demo.clone()),
                None,
                now,
                now.plus(Duration::from_secs(3600)),
            )
            .await
            .unwrap();
        format!("pod_session={}", id.expose())
    }

    /// `GET /oauth/authorize?pairs`.
    async fn authorize(&self, pairs: &[(&str, &str)]) -> Page {
        self.get(&format!("/oauth/authorize?{}", query(pairs)), None)
            .await
    }

    /// The consent page for `pairs`, signed in.
    async fn consent(&self, cookie: &str, pairs: &[(&str, &str)]) -> Page {
        self.get(
            &format!("/app/oauth/authorize?{}", query(pairs)),
            Some(cookie),
        )
        .await
    }

    /// Allow or Deny on the consent page for `pairs`.
    async fn decide(&self, pairs: &[(&str, &str)], decision: &str) -> Page {
        let cookie = self.signed_in().await;
        let page = self.consent(&cookie, pairs).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let csrf = page.csrf();
        let mut form = pairs.to_vec();
        form.push(("csrf", &csrf));
        form.push(("decision", decision));
        self.post(
            "/app/oauth/authorize",
            &[(header::COOKIE, cookie.clone())],
            &form,
        )
        .await
    }

    /// A code for `pairs`, allowed by demo.
    async fn code_for(&self, pairs: &[(&str, &str)]) -> String {
        let page = self.decide(pairs, "allow").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        page.redirect_param("code").expect("a code")
    }

    /// `POST /oauth/token` as Alexa (HTTP Basic).
    async fn token(&self, form: &[(&str, &str)]) -> Page {
        self.post(
            "/oauth/token",
            &[(header::AUTHORIZATION, basic("alexa", &self.secret))],
            form,
        )
        .await
    }

    /// The code exchanged as Alexa would: with its redirect URI and verifier.
    async fn exchange(&self, code: &str) -> Page {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", ALEXA),
            ("code_verifier", VERIFIER),
        ])
        .await
    }

    /// Linked: the token response's access and refresh tokens.
    async fn link(&self) -> (String, String) {
        let code = self.code_for(&alexa_request()).await;
        let page = self.exchange(&code).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let json = page.json();
        (
            json["access_token"].as_str().unwrap().to_owned(),
            json["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    async fn refresh(&self, token: &str) -> Page {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", token)])
            .await
    }

    /// What `/api/orders` answers the access token.
    async fn api(&self, access_token: &str) -> StatusCode {
        let request = Request::get("/api/orders")
            .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
            .body(Body::empty())
            .unwrap();
        self.send(request).await.status
    }
}

// ------------------------------------------------------------ RFC 8414

#[tokio::test]
async fn metadata_document_lists_the_endpoints_and_capabilities() {
    let env = env().await;
    let page = env
        .get("/.well-known/oauth-authorization-server", None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let m = page.json();
    assert_eq!(m["issuer"], ISSUER);
    assert_eq!(
        m["authorization_endpoint"],
        format!("{ISSUER}/oauth/authorize")
    );
    assert_eq!(m["token_endpoint"], format!("{ISSUER}/oauth/token"));
    assert_eq!(m["revocation_endpoint"], format!("{ISSUER}/oauth/revoke"));
    assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        m["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        m["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(m["scopes_supported"], serde_json::json!(["order"]));
}

// ------------------------------------------------------------ the authorization request

#[tokio::test]
async fn an_unknown_client_gets_an_error_page_never_a_redirect() {
    let env = env().await;
    for pairs in [
        with(&alexa_request(), "client_id", "nobody"),
        without(&alexa_request(), &["client_id"]),
    ] {
        let page = env.authorize(&pairs).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{pairs:?}");
        assert!(page.location().is_empty());
        assert!(page.body.contains("known application"), "{}", page.body);
    }
}

#[tokio::test]
async fn redirect_uri_must_match_exactly_and_open_redirects_are_refused() {
    let env = env().await;
    let evil = [
        "https://evil.example/steal",
        "https://pitangui.amazon.com/api/skill/link/M2AAAAAAAAAAAA/extra",
        "https://pitangui.amazon.com/api/skill/link/M2AAAAAAAAAAAA?x=1",
        "https://pitangui.amazon.com/api/skill/link/m2aaaaaaaaaaaa",
        "https://PITANGUI.amazon.com/api/skill/link/M2AAAAAAAAAAAA",
        "https://pitangui.amazon.com.evil.example/api/skill/link/M2AAAAAAAAAAAA",
        "http://pitangui.amazon.com/api/skill/link/M2AAAAAAAAAAAA",
        "https://pitangui.amazon.com:443/api/skill/link/M2AAAAAAAAAAAA",
        "https://pitangui.amazon.com/api/skill/link/M2AAAAAAAAAAAA#frag",
        OTHER, // registered, but for another client
    ];
    for uri in evil {
        let page = env
            .authorize(&with(&alexa_request(), "redirect_uri", uri))
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            page.location().is_empty(),
            "redirected to {}",
            page.location()
        );
        // Not on the consent step either.
        let cookie = env.signed_in().await;
        let page = env
            .consent(&cookie, &with(&alexa_request(), "redirect_uri", uri))
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{uri}");
    }
    // A redirect URI must be named, even by a client with only one.
    let page = env
        .authorize(&without(&alexa_request(), &["redirect_uri"]))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let page = env
        .authorize(&[("response_type", "code"), ("client_id", "other")])
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    // Each registered URI works, exactly as registered.
    for uri in [ALEXA, ALEXA_EU] {
        let page = env
            .authorize(&with(&alexa_request(), "redirect_uri", uri))
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{uri}");
        assert!(page.location().starts_with("/app/oauth/authorize?"));
    }
}

#[tokio::test]
async fn other_errors_redirect_to_the_client_with_the_state() {
    let env = env().await;
    let cases = [
        (
            with(&alexa_request(), "response_type", "token"),
            "unsupported_response_type",
        ),
        (
            without(&alexa_request(), &["response_type"]),
            "invalid_request",
        ),
        (
            with(&alexa_request(), "scope", "order admin"),
            "invalid_scope",
        ),
    ];
    for (pairs, error) in cases {
        let page = env.authorize(&pairs).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{pairs:?}");
        assert!(page.location().starts_with(ALEXA), "{}", page.location());
        assert_eq!(page.redirect_param("error").as_deref(), Some(error));
        assert_eq!(
            page.redirect_param("state").as_deref(),
            Some("xyz-state-123")
        );
        assert_eq!(page.redirect_param("code"), None);
    }
}

#[tokio::test]
async fn repeated_parameters_are_refused() {
    let env = env().await;
    let mut pairs = alexa_request();
    pairs.push(("scope", "order"));
    let page = env.authorize(&pairs).await;
    assert_eq!(
        page.redirect_param("error").as_deref(),
        Some("invalid_request")
    );
    let mut pairs = alexa_request();
    pairs.push(("redirect_uri", ALEXA_EU));
    let page = env.authorize(&pairs).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location().is_empty());
}

#[tokio::test]
async fn pkce_plain_is_refused() {
    let env = env().await;
    for pairs in [
        with(&alexa_request(), "code_challenge_method", "plain"),
        // No method means plain (RFC 7636 §4.3).
        without(&alexa_request(), &["code_challenge_method"]),
        with(&alexa_request(), "code_challenge_method", "S512"),
        with(&alexa_request(), "code_challenge", "too-short"),
    ] {
        let page = env.authorize(&pairs).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{pairs:?}");
        assert_eq!(
            page.redirect_param("error").as_deref(),
            Some("invalid_request")
        );
    }
}

#[tokio::test]
async fn a_visitor_signs_in_first_and_comes_back_to_the_consent_page() {
    let env = env().await;
    let page = env.authorize(&alexa_request()).await;
    let consent = page.location();
    let page = env.get(&consent, None).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/app/sign-in?notice=link");
    let back = page
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("pod_oauth_return="))
        .expect("the way back is remembered")
        .to_owned();
    assert!(
        back.contains("HttpOnly") && back.contains("Path=/app"),
        "{back}"
    );
    let back = back.split(';').next().unwrap().to_owned();
    // Sign in with a code, carrying the return cookie: the page gives a
    // CSRF cookie, posting the form makes the session.
    let page = env.get("/app/sign-in?notice=link", Some(&back)).await;
    assert!(page.body.contains("Sign in to link your account"));
    let cookie_pair = |page: &Page, name: &str| {
        page.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{name}=")))
            .map(|v| format!("{name}={}", v.split(';').next().unwrap()))
    };
    let csrf_cookie = cookie_pair(&page, "pod_csrf").expect("a CSRF cookie");
    let csrf = page.csrf();
    let cookies = format!("{csrf_cookie}; {back}");
    let sent = env
        .post(
            "/app/sign-in",
            &[(header::COOKIE, cookies.clone())],
            &[("csrf", &csrf), ("login", "demo")],
        )
        .await;
    let session = cookie_pair(&sent, "pod_session").expect("a sign-in session");
    let cookies = format!("{cookies}; {session}");
    let page = env
        .post(
            "/app/sign-in/code",
            &[(header::COOKIE, cookies)],
            &[("csrf", &csrf), ("code", CODE)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), consent);
}

#[tokio::test]
async fn the_consent_page_names_the_client_and_what_it_may_do() {
    let env = env().await;
    let cookie = env.signed_in().await;
    let page = env.consent(&cookie, &alexa_request()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Pizza on Demand for Alexa"));
    assert!(page.body.contains("Place pizza orders for you by voice"));
    assert!(page.body.contains("Allow") && page.body.contains("Deny"));
    // Its form may redirect to the client, and nowhere else.
    let csp = page.header(header::CONTENT_SECURITY_POLICY);
    assert!(
        csp.ends_with("form-action 'self' https://pitangui.amazon.com"),
        "{csp}"
    );
    assert_eq!(page.header(header::X_FRAME_OPTIONS), "DENY");
    assert_eq!(page.header(header::CACHE_CONTROL), "no-store");
}

#[tokio::test]
async fn allow_redirects_with_a_code_and_the_state_echoed() {
    let env = env().await;
    let page = env.decide(&alexa_request(), "allow").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location().starts_with(&format!("{ALEXA}?")));
    let code = page.redirect_param("code").unwrap();
    assert!(code.len() >= 43);
    assert_eq!(
        page.redirect_param("state").as_deref(),
        Some("xyz-state-123")
    );
    // Without state, none comes back.
    let page = env
        .decide(&without(&alexa_request(), &["state"]), "allow")
        .await;
    assert_eq!(page.redirect_param("state"), None);
}

#[tokio::test]
async fn deny_redirects_with_access_denied() {
    let env = env().await;
    let page = env.decide(&alexa_request(), "deny").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        page.redirect_param("error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        page.redirect_param("state").as_deref(),
        Some("xyz-state-123")
    );
    assert_eq!(page.redirect_param("code"), None);
}

#[tokio::test]
async fn the_decision_needs_the_sessions_csrf_token() {
    let env = env().await;
    let cookie = env.signed_in().await;
    for csrf in ["", "forged"] {
        let mut form = alexa_request();
        form.push(("csrf", csrf));
        form.push(("decision", "allow"));
        let page = env
            .post(
                "/app/oauth/authorize",
                &[(header::COOKIE, cookie.clone())],
                &form,
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        assert!(page.location().is_empty());
    }
    // And a session: without one, nothing is issued.
    let mut form = alexa_request();
    form.push(("decision", "allow"));
    let page = env.post("/app/oauth/authorize", &[], &form).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

// ------------------------------------------------------------ the token endpoint

#[tokio::test]
async fn client_secret_basic_exchanges_a_code_for_tokens() {
    let env = env().await;
    let code = env.code_for(&alexa_request()).await;
    let page = env.exchange(&code).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let json = page.json();
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 3600);
    assert_eq!(json["scope"], "order");
    let access = json["access_token"].as_str().unwrap();
    assert!(json["refresh_token"].as_str().unwrap().len() >= 43);
    assert_eq!(env.api(access).await, StatusCode::OK);
    assert_eq!(env.store.grants_of(&env.demo).await.unwrap().len(), 1);
}

#[tokio::test]
async fn client_secret_post_exchanges_a_code_for_tokens() {
    let env = env().await;
    let code = env.code_for(&alexa_request()).await;
    let page = env
        .post(
            "/oauth/token",
            &[],
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", ALEXA),
                ("code_verifier", VERIFIER),
                ("client_id", "alexa"),
                ("client_secret", &env.secret),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.json()["access_token"].is_string());
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_client_401() {
    let env = env().await;
    let code = env.code_for(&alexa_request()).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", ALEXA),
        ("code_verifier", VERIFIER),
    ];
    let wrong = [
        vec![(header::AUTHORIZATION, basic("alexa", "wrong-secret"))],
        vec![(header::AUTHORIZATION, basic("alexa", &env.other_secret))],
        vec![(header::AUTHORIZATION, basic("nobody", &env.secret))],
        vec![(header::AUTHORIZATION, "Basic !!!".to_owned())],
        vec![(header::AUTHORIZATION, "Bearer abc".to_owned())],
        vec![],
    ];
    for headers in wrong {
        let page = env.post("/oauth/token", &headers, &form).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(page.error(), "invalid_client");
        assert!(page.header(header::WWW_AUTHENTICATE).starts_with("Basic"));
        assert_eq!(page.header(header::CACHE_CONTROL), "no-store");
    }
    let mut post = form.to_vec();
    post.push(("client_id", "alexa"));
    post.push(("client_secret", "wrong-secret"));
    let page = env.post("/oauth/token", &[], &post).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert_eq!(page.error(), "invalid_client");
    // Two methods at once are refused, even with the right secret.
    let mut both = form.to_vec();
    both.push(("client_id", "alexa"));
    both.push(("client_secret", &env.secret));
    let page = env
        .post(
            "/oauth/token",
            &[(header::AUTHORIZATION, basic("alexa", &env.secret))],
            &both,
        )
        .await;
    assert_eq!(page.error(), "invalid_request");
    // None of this spent the code.
    assert_eq!(env.exchange(&code).await.status, StatusCode::OK);
}

#[tokio::test]
async fn token_responses_are_no_store() {
    let env = env().await;
    let code = env.code_for(&alexa_request()).await;
    let ok = env.exchange(&code).await;
    let refused = env.exchange(&code).await;
    let refresh = env
        .refresh(ok.json()["refresh_token"].as_str().unwrap())
        .await;
    for page in [ok, refused, refresh] {
        assert_eq!(page.header(header::CACHE_CONTROL), "no-store");
        assert_eq!(page.header(header::PRAGMA), "no-cache");
        assert!(
            page.header(header::CONTENT_TYPE)
                .starts_with("application/json")
        );
    }
}

#[tokio::test]
async fn a_code_is_single_use_and_its_reuse_revokes_the_tokens() {
    let env = env().await;
    let code = env.code_for(&alexa_request()).await;
    let first = env.exchange(&code).await;
    assert_eq!(first.status, StatusCode::OK);
    let access = first.json()["access_token"].as_str().unwrap().to_owned();
    let refresh = first.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(env.api(&access).await, StatusCode::OK);
    let second = env.exchange(&code).await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    assert_eq!(second.error(), "invalid_grant");
    // RFC 6749 §4.1.2: what the first use issued is revoked.
    assert_eq!(env.api(&access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(env.refresh(&refresh).await.error(), "invalid_grant");
}

#[tokio::test]
async fn two_concurrent_redemptions_of_one_code_give_exactly_one_token() {
    let env = env().await;
    for _ in 0..5 {
        let code = env.code_for(&alexa_request()).await;
        let (a, b) = tokio::join!(env.exchange(&code), env.exchange(&code));
        let ok = [&a, &b]
            .iter()
            .filter(|p| p.status == StatusCode::OK)
            .count();
        assert_eq!(ok, 1, "{} / {}", a.body, b.body);
        let refused = if a.status == StatusCode::OK { &b } else { &a };
        assert_eq!(refused.error(), "invalid_grant");
    }
}

#[tokio::test]
async fn a_code_is_bound_to_its_client() {
    let env = env().await;
    let code = env.code_for(&alexa_request()).await;
    let page = env
        .post(
            "/oauth/token",
            &[(header::AUTHORIZATION, basic("other", &env.other_secret))],
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", ALEXA),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(page.error(), "invalid_grant");
    // And it is spent: no second try.
    assert_eq!(env.exchange(&code).await.error(), "invalid_grant");
}

#[tokio::test]
async fn a_code_is_bound_to_its_redirect_uri() {
    let env = env().await;
    for redirect in [Some(ALEXA_EU), None] {
        let code = env.code_for(&alexa_request()).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
        ];
        if let Some(uri) = redirect {
            form.push(("redirect_uri", uri));
        }
        let page = env.token(&form).await;
        assert_eq!(page.error(), "invalid_grant", "{redirect:?}");
        assert_eq!(env.exchange(&code).await.error(), "invalid_grant");
    }
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let env = env().await;
    let code = env.code_for(&alexa_request()).await;
    env.clock.advance(Duration::from_secs(60));
    let page = env.exchange(&code).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(page.error(), "invalid_grant");
    // A used code presented after its expiry still revokes what it issued.
    let code = env.code_for(&alexa_request()).await;
    let first = env.exchange(&code).await;
    let access = first.json()["access_token"].as_str().unwrap().to_owned();
    env.clock.advance(Duration::from_secs(120));
    assert_eq!(env.exchange(&code).await.error(), "invalid_grant");
    assert_eq!(env.api(&access).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn pkce_s256_verifier_is_checked() {
    let env = env().await;
    let code = env.code_for(&alexa_request()).await;
    let wrong = URL_SAFE_NO_PAD.encode([1u8; 32]);
    let page = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", ALEXA),
            ("code_verifier", &wrong),
        ])
        .await;
    assert_eq!(page.error(), "invalid_grant");
    // The challenge itself is not the verifier.
    let code = env.code_for(&alexa_request()).await;
    let page = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", ALEXA),
            ("code_verifier", CHALLENGE),
        ])
        .await;
    assert_eq!(page.error(), "invalid_grant");
    let code = env.code_for(&alexa_request()).await;
    assert_eq!(env.exchange(&code).await.status, StatusCode::OK);
}

#[tokio::test]
async fn pkce_missing_verifier_when_challenged_is_refused() {
    let env = env().await;
    let code = env.code_for(&alexa_request()).await;
    let page = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", ALEXA),
        ])
        .await;
    assert_eq!(page.error(), "invalid_grant");
}

#[tokio::test]
async fn pkce_verifier_without_a_challenge_is_refused_and_none_needs_none() {
    let env = env().await;
    let plain = without(
        &alexa_request(),
        &["code_challenge", "code_challenge_method"],
    );
    // RFC 9700 §2.1.1: a verifier where no challenge was sent is a downgrade.
    let code = env.code_for(&plain).await;
    assert_eq!(env.exchange(&code).await.error(), "invalid_grant");
    // A client that sends no challenge (Alexa, today) needs no verifier.
    let code = env.code_for(&plain).await;
    let page = env
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", ALEXA),
        ])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
}

#[tokio::test]
async fn unsupported_grant_types_and_missing_parameters() {
    let env = env().await;
    let page = env.token(&[("grant_type", "password")]).await;
    assert_eq!(page.error(), "unsupported_grant_type");
    let page = env.token(&[("grant_type", "client_credentials")]).await;
    assert_eq!(page.error(), "unsupported_grant_type");
    let page = env.token(&[]).await;
    assert_eq!(page.error(), "invalid_request");
    let page = env.token(&[("grant_type", "authorization_code")]).await;
    assert_eq!(page.error(), "invalid_request");
    let page = env.token(&[("grant_type", "refresh_token")]).await;
    assert_eq!(page.error(), "invalid_request");
    let page = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("grant_type", "refresh_token"),
        ])
        .await;
    assert_eq!(page.error(), "invalid_request");
}

// ------------------------------------------------------------ refresh tokens

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let env = env().await;
    let (access1, refresh1) = env.link().await;
    env.clock.advance(Duration::from_secs(10));
    let page = env.refresh(&refresh1).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let access2 = page.json()["access_token"].as_str().unwrap().to_owned();
    let refresh2 = page.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh1, refresh2);
    assert_ne!(access1, access2);
    let page = env.refresh(&refresh2).await;
    assert_eq!(page.status, StatusCode::OK);
    let access3 = page.json()["access_token"].as_str().unwrap().to_owned();
    let refresh3 = page.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(env.api(&access3).await, StatusCode::OK);
    // An old refresh token again: someone else has a copy.
    let page = env.refresh(&refresh1).await;
    assert_eq!(page.error(), "invalid_grant");
    // The whole family is gone: the newest refresh token and every access token.
    assert_eq!(env.refresh(&refresh3).await.error(), "invalid_grant");
    for access in [&access1, &access2, &access3] {
        assert_eq!(env.api(access).await, StatusCode::UNAUTHORIZED);
    }
    assert!(env.store.grants_of(&env.demo).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_refresh_token_is_bound_to_its_client() {
    let env = env().await;
    let (_, refresh) = env.link().await;
    let page = env
        .post(
            "/oauth/token",
            &[(header::AUTHORIZATION, basic("other", &env.other_secret))],
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(page.error(), "invalid_grant");
    // Not spent by that attempt.
    assert_eq!(env.refresh(&refresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn refresh_may_narrow_but_not_widen_the_scope() {
    let env = env().await;
    let (_, refresh) = env.link().await;
    let page = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("scope", "order admin"),
        ])
        .await;
    assert_eq!(page.error(), "invalid_scope");
    let page = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("scope", "order"),
        ])
        .await;
    assert_eq!(page.status, StatusCode::OK);
}

// ------------------------------------------------------------ RFC 7009

#[tokio::test]
async fn the_revoke_endpoint_revokes_refresh_and_access_tokens() {
    let env = env().await;
    let alexa = [(header::AUTHORIZATION, basic("alexa", &env.secret))];
    // A refresh token revokes its whole grant.
    let (access, refresh) = env.link().await;
    let page = env
        .post(
            "/oauth/revoke",
            &alexa,
            &[("token", &refresh), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(env.api(&access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(env.refresh(&refresh).await.error(), "invalid_grant");
    // So does an access token (the hint is only a hint).
    let (access, refresh) = env.link().await;
    let page = env
        .post(
            "/oauth/revoke",
            &alexa,
            &[("token", &access), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(env.api(&access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(env.refresh(&refresh).await.error(), "invalid_grant");
    // Unknown tokens are no error (RFC 7009 §2.2).
    let page = env
        .post("/oauth/revoke", &alexa, &[("token", "nonsense")])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    // Another client cannot revoke Alexa's tokens; a wrong secret is 401.
    let (access, _) = env.link().await;
    let page = env
        .post(
            "/oauth/revoke",
            &[(header::AUTHORIZATION, basic("other", &env.other_secret))],
            &[("token", &access)],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(env.api(&access).await, StatusCode::OK);
    let page = env
        .post(
            "/oauth/revoke",
            &[(header::AUTHORIZATION, basic("alexa", "wrong"))],
            &[("token", &access)],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    let page = env.post("/oauth/revoke", &alexa, &[]).await;
    assert_eq!(page.error(), "invalid_request");
}

// ------------------------------------------------------------ the person's side

#[tokio::test]
async fn the_linked_skills_page_lists_and_unlinks() {
    let env = env().await;
    let (access, refresh) = env.link().await;
    let cookie = env.signed_in().await;
    let page = env.get("/app/linked", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Pizza on Demand for Alexa"));
    let csrf = page.csrf();
    let grant = env.store.grants_of(&env.demo).await.unwrap()[0]
        .id
        .to_string();
    // Without the CSRF token nothing happens.
    let page = env
        .post(
            "/app/linked/unlink",
            &[(header::COOKIE, cookie.clone())],
            &[("grant", &grant)],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(env.api(&access).await, StatusCode::OK);
    let page = env
        .post(
            "/app/linked/unlink",
            &[(header::COOKIE, cookie.clone())],
            &[("csrf", &csrf), ("grant", &grant)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/app/linked?notice=unlinked");
    assert_eq!(env.api(&access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(env.refresh(&refresh).await.error(), "invalid_grant");
    let page = env.get("/app/linked?notice=unlinked", Some(&cookie)).await;
    assert!(page.body.contains("No skill is linked"));
    assert!(page.body.contains("Unlinked."));
    // Signed out, the page asks to sign in.
    let page = env.get("/app/linked", None).await;
    assert_eq!(page.location(), "/app/sign-in");
}

#[tokio::test]
async fn the_oauth_pages_follow_the_browsers_language() {
    let env = env().await;
    let cookie = env.signed_in().await;
    let consent = format!("/app/oauth/authorize?{}", query(&alexa_request()));
    let unknown_client = format!(
        "/oauth/authorize?{}",
        query(&with(&alexa_request(), "client_id", "nobody"))
    );
    let other_redirect = format!(
        "/oauth/authorize?{}",
        query(&with(&alexa_request(), "redirect_uri", OTHER))
    );
    let german = "de-DE,de;q=0.9,en;q=0.8";

    // The consent page: title, what the skill may do, Allow and Deny.
    let page = env.get_in(&consent, german, Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<html lang=\"de\">"), "{}", page.body);
    assert!(
        page.body
            .contains("<title>Konto verknüpfen · Pizza on Demand</title>")
    );
    assert!(
        page.body
            .contains("<h1>Pizza on Demand for Alexa verknüpfen?</h1>")
    );
    assert!(page.body.contains("Du bist angemeldet als"));
    assert!(page.body.contains("Per Sprache Pizza für dich bestellen."));
    assert!(page.body.contains(">Erlauben</button>"));
    assert!(page.body.contains(">Ablehnen</button>"));
    assert!(!page.body.contains("Place pizza orders"), "{}", page.body);
    // A form answered with neither: the error page in German.
    let csrf = page.csrf();
    let mut form = alexa_request();
    form.push(("csrf", &csrf));
    form.push(("decision", "later"));
    let page = env
        .post(
            "/app/oauth/authorize",
            &[
                (header::COOKIE, cookie.clone()),
                (header::ACCEPT_LANGUAGE, "de".to_owned()),
            ],
            &form,
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("Wähle „Erlauben“ oder „Ablehnen“."),
        "{}",
        page.body
    );

    // The linked skills: empty with the notice, then one to unlink.
    let page = env
        .get_in("/app/linked?notice=unlinked", german, Some(&cookie))
        .await;
    assert!(
        page.body.contains("<h1>Verknüpfte Skills</h1>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("Mit deinem Konto ist kein Skill verknüpft.")
    );
    assert!(page.body.contains("Verknüpfung aufgehoben."));
    env.link().await;
    let page = env.get_in("/app/linked", german, Some(&cookie)).await;
    assert!(page.body.contains("verknüpft am "), "{}", page.body);
    assert!(
        page.body
            .contains("aria-label=\"Verknüpfung mit Pizza on Demand for Alexa aufheben\"")
    );
    assert!(page.body.contains(">Verknüpfung aufheben</button>"));
    assert!(!page.body.contains("Unlink"), "{}", page.body);

    // The error pages of the authorization request.
    let page = env.get_in(&unknown_client, german, None).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("<h1>Das hat nicht geklappt</h1>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("Die Anfrage nennt keine bekannte Anwendung.")
    );
    let page = env.get_in(&other_redirect, german, None).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body
            .contains("Die Rücksprungadresse ist für diese Anwendung nicht eingetragen."),
        "{}",
        page.body
    );

    // Any language pod does not have: English.
    let french = "fr-FR,fr;q=0.9";
    let page = env.get_in(&consent, french, Some(&cookie)).await;
    assert!(page.body.contains("<html lang=\"en\">"), "{}", page.body);
    assert!(
        page.body
            .contains("<h1>Link Pizza on Demand for Alexa?</h1>")
    );
    assert!(page.body.contains("Place pizza orders for you by voice."));
    assert!(page.body.contains(">Allow</button>") && page.body.contains(">Deny</button>"));
    let page = env.get_in("/app/linked", french, Some(&cookie)).await;
    assert!(
        page.body.contains("<h1>Linked skills</h1>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("aria-label=\"Unlink Pizza on Demand for Alexa\"")
    );
    assert!(page.body.contains(">Unlink</button>"));
    let page = env.get_in(&unknown_client, french, None).await;
    assert!(
        page.body.contains("<h1>That did not work</h1>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("The request does not name a known application.")
    );
    assert!(!page.body.contains("Anwendung"));
}
