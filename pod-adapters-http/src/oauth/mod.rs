//! pod as the OAuth 2.0 authorization server Alexa links accounts against
//! (RFC 6749 authorization-code grant, RFC 7636 PKCE, RFC 7009 revocation,
//! RFC 8414 metadata), served beside the web app, whose sign-in it uses.
//!
//! Routes (under the router's base):
//! - `GET /.well-known/oauth-authorization-server`: the metadata.
//! - `GET /oauth/authorize`: checks the request (an error page when the
//!   client or redirect URI is wrong, a redirect with the error otherwise),
//!   then goes on to the consent page under `/app`, where the session
//!   cookie is sent.
//! - `POST /oauth/token`: `authorization_code` and `refresh_token`,
//!   `client_secret_basic` or `client_secret_post`, `Cache-Control: no-store`.
//! - `POST /oauth/revoke`: RFC 7009.
//! - `GET /app/oauth/authorize`: sign in first (and come back), then the
//!   consent page; `POST /app/oauth/authorize`: Allow or Deny.
//! - `GET /app/linked`, `POST /app/linked/unlink`: the person's linked
//!   skills, and unlinking one.
//!
//! Every decision is [`OAuthService`]'s; this module only translates. The
//! pages speak the browser's language (`Accept-Language`), like the rest of
//! the web app.

mod consent;
mod endpoints;

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::http::header::{self, HeaderValue};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pod_ports::OAuthService;
use pod_ports::oauth::ClientRedirect;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::HttpState;
use crate::app::{AppState, CONTENT_SECURITY_POLICY, WebApp};

/// The cookie (path `/app`) that brings a person back to the consent page
/// after signing in.
const RETURN_COOKIE: &str = "pod_oauth_return";

/// Everything the OAuth routes need: pass it to [`HttpState::with_oauth`]
/// (with a web app, which signs people in).
///
/// **API Boundary.**
#[derive(Clone)]
pub struct OAuthServer {
    pub(crate) service: OAuthService,
    /// The issuer identifier: the absolute URL of the router's base
    /// (`https://pod.example` or `https://example.com/pod`), without a
    /// trailing slash.
    pub(crate) issuer: String,
}

impl fmt::Debug for OAuthServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthServer")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl OAuthServer {
    /// The server deciding with `service`, reachable at `issuer` (the
    /// absolute URL the router is served at, base path included).
    pub fn new(service: OAuthService, issuer: &str) -> Self {
        OAuthServer {
            service,
            issuer: issuer.trim_end_matches('/').to_owned(),
        }
    }
}

/// `uri` with `params` appended to its query (`None` if `uri` does not
/// parse, which a registered URI always does).
pub(crate) fn redirect_url(redirect: &ClientRedirect) -> Option<String> {
    let mut url = url::Url::parse(&redirect.uri).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in &redirect.params {
            query.append_pair(name, value);
        }
    }
    Some(url.into())
}

/// The origin (`scheme://host:port`) of a URI, for the consent page's
/// `form-action`.
pub(crate) fn origin_of(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    match url.origin() {
        url::Origin::Tuple(..) => Some(url.origin().ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

/// Remembers where to come back to after signing in.
pub(crate) fn remember_return(state: &AppState, jar: CookieJar, path_and_query: &str) -> CookieJar {
    let cookie = Cookie::build((RETURN_COOKIE, URL_SAFE_NO_PAD.encode(path_and_query)))
        .path(state.web.app_path())
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.web.config.secure_cookie)
        .max_age(
            time::Duration::try_from(state.web.config.sign_in_lifetime)
                .unwrap_or(time::Duration::MAX),
        )
        .build();
    jar.add(cookie)
}

/// After a sign-in: where the person was going (only ever the consent page
/// of this app), and the jar with the cookie removed.
pub(crate) fn take_return(state: &AppState, jar: CookieJar) -> (CookieJar, Option<String>) {
    let Some(cookie) = jar.get(RETURN_COOKIE) else {
        return (jar, None);
    };
    let back = URL_SAFE_NO_PAD
        .decode(cookie.value())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|to| {
            to.len() <= 8192
                && to.starts_with(&format!("{}/oauth/authorize?", state.web.app_path()))
                && to.bytes().all(|b| b.is_ascii_graphic())
        });
    let removal = Cookie::build(RETURN_COOKIE)
        .path(state.web.app_path())
        .build();
    (jar.remove(removal), back)
}

/// The OAuth routes (full paths, to merge into the main router).
pub(crate) fn router(
    http: HttpState,
    web: Arc<WebApp>,
    oauth: Arc<OAuthServer>,
) -> Router<HttpState> {
    // English until a handler's `OAuthState` reads the request's
    // Accept-Language.
    let app = AppState {
        http: http.clone(),
        web,
        texts: &crate::app::texts::EN,
    };
    let endpoints = Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(endpoints::metadata),
        )
        .route("/oauth/authorize", get(endpoints::authorize))
        .route("/oauth/token", post(endpoints::token))
        .route("/oauth/revoke", post(endpoints::revoke))
        .with_state(endpoints::OAuthState {
            app: app.clone(),
            oauth: oauth.clone(),
        });
    // The pages under `/app` get the web app's security headers; the
    // consent page sets its own Content-Security-Policy (its form may
    // redirect to the client).
    let pages = Router::new()
        .route(
            "/app/oauth/authorize",
            get(consent::page).post(consent::decide),
        )
        .route("/app/linked", get(consent::linked))
        .route("/app/linked/unlink", post(consent::unlink))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(endpoints::OAuthState { app, oauth });
    endpoints.merge(pages)
}
