//! `/app`: the web app for account holders.
//!
//! Server-rendered pages (askama templates compiled into the binary) that
//! read without JavaScript, plus one small script of pod's own that keeps
//! the orders live through Server-Sent Events (`/app/events`). Sessions live
//! in a [`SessionStore`]; the cookie holds only the random session id. A
//! session is made only when a sign-in form is posted: until then pages
//! write nothing, and the sign-in forms are protected by a double-submit
//! cookie (`csrf`). Every state-changing request of a signed-in session
//! carries the session's CSRF token, and every response carries a strict
//! Content-Security-Policy.
//!
//! Routes (under the router's `/app`):
//! - `GET /` orders (pending and confirmed), `POST /orders/clear`
//! - `GET /profile`, `GET /privacy` (public)
//! - `GET /sign-in`, `POST /sign-in` (passwordless: send a code),
//!   `POST /sign-in/code`, `POST /sign-in/restart`
//! - `GET /login?csrf=`, `GET /callback` (OpenID Connect), `POST /sign-out`
//! - `GET /events` (Server-Sent Events), `GET /assets/{name}`

mod assets;
mod csrf;
mod live;
pub(crate) mod pages;
mod sign_in;
pub(crate) mod texts;
pub(crate) mod views;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use axum::Router;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use pod_domain::{CustomerId, Timestamp};
use pod_ports::{
    CustomerDirectory, ServiceError, Session, SessionId, SessionStore, SignInService, StoreError,
    WebLogin,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tracing::warn;

use crate::{HttpState, LiveEvents};
use texts::{OAuthProblem, SignInProblem, WebTexts};

/// The name of the session cookie.
pub(crate) const SESSION_COOKIE: &str = "pod_session";

/// The Content-Security-Policy of every `/app` response: only pod's own
/// script and styles, no inline code, no framing. With OpenID Connect,
/// `form-action` also names the provider's origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The policy for `method`. Browsers apply `form-action` to the redirects
/// that follow a form too, and signing out of an OpenID Connect provider is
/// a form whose answer redirects to the provider's logout URL: its origin
/// must be allowed, or the browser stops at pod's page.
fn content_security_policy(method: &SignInMethod) -> HeaderValue {
    let provider = match method {
        SignInMethod::Passwordless => None,
        SignInMethod::Oidc { login, .. } => url::Url::parse(&login.logout_url(""))
            .ok()
            .filter(|url| matches!(url.scheme(), "https" | "http"))
            .map(|url| url.origin().ascii_serialization()),
    };
    match provider {
        Some(origin) => HeaderValue::try_from(format!("{CONTENT_SECURITY_POLICY} {origin}"))
            .unwrap_or(HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        None => HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    }
}

/// How people sign in.
#[derive(Clone)]
pub enum SignInMethod {
    /// pod's own one-time codes (the embedded mode): user name or email,
    /// then the code. Needs a [`SignInService`] with passwordless sign-in.
    Passwordless,
    /// An OpenID Connect provider (Auth0).
    Oidc {
        /// The provider.
        login: Arc<dyn WebLogin>,
        /// The absolute URL of `/app/callback` as the browser reaches it
        /// (registered at the provider as an allowed callback URL).
        redirect_uri: String,
        /// The absolute URL the provider sends the browser back to after
        /// signing out (an allowed logout URL), normally `/app/sign-in`.
        post_logout_uri: String,
    },
}

impl fmt::Debug for SignInMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignInMethod::Passwordless => f.write_str("Passwordless"),
            SignInMethod::Oidc { redirect_uri, .. } => f
                .debug_struct("Oidc")
                .field("redirect_uri", redirect_uri)
                .finish_non_exhaustive(),
        }
    }
}

/// The text of the privacy policy page.
#[derive(Debug, Clone, Default)]
pub enum PrivacyPolicy {
    /// pod's own text, which says what pod stores.
    #[default]
    Default,
    /// An operator's HTML, shown as it is (trusted; inline styles and
    /// scripts are blocked by the Content-Security-Policy).
    Html(String),
    /// An operator's plain text or simple Markdown (`#` headings, `-` lists,
    /// paragraphs); everything is escaped.
    Text(String),
}

/// Settings of the web app.
#[derive(Debug, Clone)]
pub struct WebAppConfig {
    /// The path prefix the router is nested under ("" or "/pod"): links and
    /// the cookie's `Path` need it, the router cannot know it.
    pub base_path: String,
    /// Whether the cookie gets `Secure` (pod serves TLS, or sits behind an
    /// HTTPS proxy).
    pub secure_cookie: bool,
    /// How long a signed-in session lasts (default 8 hours).
    pub session_lifetime: Duration,
    /// How long a sign-in may take from the first page to the code or the
    /// callback (default 15 minutes).
    pub sign_in_lifetime: Duration,
    /// How often an idle event stream sends a keep-alive comment (default 15 s).
    pub keep_alive: Duration,
    /// The privacy policy text.
    pub privacy_policy: PrivacyPolicy,
    /// Take the client address (which the sign-in brake counts by) from the
    /// last entry of `X-Forwarded-For`, as a proxy in front of pod appends
    /// it; only when such a proxy is the one way in (default off: the
    /// connection's address).
    pub trust_forwarded_for: bool,
}

impl Default for WebAppConfig {
    fn default() -> Self {
        WebAppConfig {
            base_path: String::new(),
            secure_cookie: false,
            session_lifetime: Duration::from_secs(8 * 60 * 60),
            sign_in_lifetime: Duration::from_secs(15 * 60),
            keep_alive: Duration::from_secs(15),
            privacy_policy: PrivacyPolicy::Default,
            trust_forwarded_for: false,
        }
    }
}

/// Everything `/app` needs beyond the [`HttpState`]: pass it to
/// [`HttpState::with_web_app`].
///
/// **API Boundary:** embedders build one from their own ports.
#[derive(Clone)]
pub struct WebApp {
    pub(crate) sessions: Arc<dyn SessionStore>,
    pub(crate) sign_in: SignInService,
    pub(crate) method: SignInMethod,
    pub(crate) directory: Arc<dyn CustomerDirectory>,
    pub(crate) events: LiveEvents,
    pub(crate) config: WebAppConfig,
}

impl fmt::Debug for WebApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebApp")
            .field("method", &self.method)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WebApp {
    /// The web app over its ports: where sessions live, how sign-in works
    /// (`sign_in` records every sign-in and, for
    /// [`SignInMethod::Passwordless`], sends and checks the codes), where
    /// contact points come from (the profile page), and the live events
    /// the orders page follows (the same [`LiveEvents`] the ordering
    /// service publishes to).
    pub fn new(
        sessions: Arc<dyn SessionStore>,
        sign_in: SignInService,
        method: SignInMethod,
        directory: Arc<dyn CustomerDirectory>,
        events: LiveEvents,
        config: WebAppConfig,
    ) -> Self {
        let mut config = config;
        config.base_path = config.base_path.trim_end_matches('/').to_owned();
        WebApp {
            sessions,
            sign_in,
            method,
            directory,
            events,
            config,
        }
    }

    /// `<base>/app`: the prefix of every link and the cookie's path.
    pub(crate) fn app_path(&self) -> String {
        format!("{}/app", self.config.base_path)
    }
}

/// The state of `/app` handlers, with the words of the request's language
/// (handlers take it as `state: AppState`, which reads `Accept-Language`).
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) http: HttpState,
    pub(crate) web: Arc<WebApp>,
    pub(crate) texts: &'static WebTexts,
}

impl axum::extract::FromRequestParts<AppState> for AppState {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let accept = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        Ok(AppState {
            texts: texts::for_accept_language(accept),
            ..state.clone()
        })
    }
}

impl AppState {
    pub(crate) fn now(&self) -> Timestamp {
        self.http.clock().now()
    }

    /// The session the request's cookie names, if it is valid.
    pub(crate) async fn session(
        &self,
        jar: &CookieJar,
    ) -> Result<Option<(SessionId, Session)>, AppError> {
        let Some(id) = jar
            .get(SESSION_COOKIE)
            .and_then(|cookie| SessionId::from_cookie(cookie.value()))
        else {
            return Ok(None);
        };
        Ok(self
            .web
            .sessions
            .session(&id, self.now())
            .await?
            .map(|s| (id, s)))
    }

    /// The signed-in customer's session, or a redirect to the sign-in page.
    pub(crate) async fn signed_in(
        &self,
        jar: &CookieJar,
    ) -> Result<(SessionId, Session, CustomerId), AppError> {
        match self.session(jar).await? {
            Some((id, session)) => match session.customer.clone() {
                Some(customer) => Ok((id, session, customer)),
                None => Err(AppError::SignInFirst),
            },
            None => Err(AppError::SignInFirst),
        }
    }

    /// The session cookie for `id`, kept for `lifetime`.
    pub(crate) fn cookie(&self, id: &SessionId, lifetime: Duration) -> Cookie<'static> {
        let mut cookie = self.cookie_attributes();
        cookie.set_value(id.expose().to_owned());
        cookie.set_max_age(time::Duration::try_from(lifetime).unwrap_or(time::Duration::MAX));
        cookie
    }

    /// The session cookie without a value: its name and attributes (only for
    /// `/app`, out of reach of scripts, not sent on cross-site
    /// subrequests). [`CookieJar::remove`] turns it into a removal.
    pub(crate) fn cookie_attributes(&self) -> Cookie<'static> {
        Cookie::build(SESSION_COOKIE)
            .path(self.web.app_path())
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.web.config.secure_cookie)
            .build()
    }

    /// A `303 See Other` to a path under `/app` (`""` for the orders page).
    pub(crate) fn redirect(&self, to: &str) -> Response {
        see_other(&format!("{}{to}", self.web.app_path()))
    }
}

/// A `303 See Other` to `location`.
pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Constant-time comparison of a submitted CSRF token with the session's
/// (the forms of a signed-in session; before, see [`csrf`]).
pub(crate) fn csrf_matches(submitted: Option<&str>, session: &Session) -> bool {
    let Some(submitted) = submitted else {
        return false;
    };
    verify_slices_are_equal(submitted.as_bytes(), session.csrf_token.as_bytes()).is_ok()
}

/// Why an `/app` request failed; rendered as an HTML page. The cause goes to
/// the log, never to the browser.
#[derive(Debug)]
pub(crate) enum AppError {
    /// No (valid) session: pages redirect to sign-in.
    SignInFirst,
    /// A state-changing request without the right CSRF token (or cookie) or
    /// session.
    Forbidden,
    /// A bad request, with a message for the person.
    BadRequest(SignInProblem),
    /// A bad request of the OAuth server, with a message for the person.
    BadOAuthRequest(OAuthProblem),
    /// No such page.
    NotFound,
    /// Something behind pod failed.
    Unavailable,
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        warn!(%error, "web app: store failed");
        AppError::Unavailable
    }
}

impl From<ServiceError> for AppError {
    fn from(error: ServiceError) -> Self {
        warn!(%error, "web app: service failed");
        AppError::Unavailable
    }
}

/// Renders an error page (the base path is needed for links, so handlers
/// turn errors into responses with [`AppState::error_page`]).
impl AppState {
    pub(crate) fn error_page(&self, error: AppError) -> Response {
        let t = self.texts;
        let (status, title, message) = match error {
            AppError::SignInFirst => return self.redirect("/sign-in"),
            AppError::Forbidden => (StatusCode::FORBIDDEN, t.forbidden_title, t.forbidden),
            AppError::BadRequest(problem) => (
                StatusCode::BAD_REQUEST,
                t.bad_request_title,
                t.problem(problem),
            ),
            AppError::BadOAuthRequest(problem) => (
                StatusCode::BAD_REQUEST,
                t.bad_request_title,
                t.oauth_problem(problem),
            ),
            AppError::NotFound => (StatusCode::NOT_FOUND, t.not_found_title, t.not_found),
            AppError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                t.unavailable_title,
                t.unavailable,
            ),
        };
        views::error_page(self, status, title, message)
    }
}

/// A layer that sets `name: value` on every response, replacing the
/// handler's own.
fn security_header(
    name: header::HeaderName,
    value: &'static str,
) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}

/// The `/app` routes (full paths, to merge into the main router), their
/// state already applied.
pub(crate) fn router(http: HttpState, web: Arc<WebApp>) -> Router<HttpState> {
    let csp = content_security_policy(&web.method);
    let state = AppState {
        http,
        web,
        texts: &texts::EN,
    };
    Router::new()
        .route("/app", get(pages::orders))
        .route("/app/", get(pages::orders))
        .route("/app/orders/clear", post(pages::clear))
        .route("/app/profile", get(pages::profile))
        .route("/app/privacy", get(pages::privacy))
        .route("/app/sign-in", get(sign_in::page).post(sign_in::send_code))
        .route("/app/sign-in/code", post(sign_in::enter_code))
        .route("/app/sign-in/restart", post(sign_in::restart))
        .route("/app/login", get(sign_in::oidc_login))
        .route("/app/callback", get(sign_in::oidc_callback))
        .route("/app/sign-out", post(sign_in::sign_out))
        .route("/app/events", get(live::events))
        .route("/app/assets/{name}", get(assets::serve))
        .route("/app/{*rest}", axum::routing::any(pages::not_found))
        // The security headers on every `/app` response, and `no-store` on
        // everything but the assets (which set their own Cache-Control).
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(security_header(header::REFERRER_POLICY, "same-origin"))
        .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
}
