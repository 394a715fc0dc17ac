//! The protocol endpoints: metadata, the authorization request's checks,
//! the token endpoint and revocation.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pod_ports::oauth::{
    AuthorizeError, AuthorizeRequest, ClientAuth, ClientRedirect, OAuthClient, OAuthError,
    SUPPORTED_SCOPES, TokenResponse,
};
use serde_json::json;

use super::{OAuthServer, redirect_url};
use crate::app::texts::OAuthProblem;
use crate::app::{AppError, AppState, see_other};

/// The state of the OAuth routes. Page handlers take it as
/// `state: OAuthState`, which picks the words of the request's language
/// (`Accept-Language`) the way [`AppState`] does.
#[derive(Clone)]
pub(crate) struct OAuthState {
    pub(crate) app: AppState,
    pub(crate) oauth: Arc<OAuthServer>,
}

impl FromRequestParts<OAuthState> for OAuthState {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &OAuthState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(app) = AppState::from_request_parts(parts, &state.app).await;
        Ok(OAuthState {
            app,
            oauth: state.oauth.clone(),
        })
    }
}

/// Form or query parameters, with the names that came more than once
/// (RFC 6749 §3.1, §3.2: parameters must not repeat).
pub(crate) struct Params {
    values: HashMap<String, String>,
    repeated: Vec<String>,
}

impl Params {
    pub(crate) fn parse(raw: &[u8]) -> Params {
        let mut values = HashMap::new();
        let mut repeated = Vec::new();
        for (name, value) in url::form_urlencoded::parse(raw) {
            if values.contains_key(name.as_ref()) {
                repeated.push(name.into_owned());
            } else {
                values.insert(name.into_owned(), value.into_owned());
            }
        }
        Params { values, repeated }
    }

    /// A parameter; an empty value counts as absent (RFC 6749 §3.1).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn owned(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    pub(crate) fn is_repeated(&self, name: &str) -> bool {
        self.repeated.iter().any(|r| r == name)
    }

    pub(crate) fn any_repeated(&self) -> bool {
        !self.repeated.is_empty()
    }

    pub(crate) fn authorize_request(&self) -> AuthorizeRequest {
        AuthorizeRequest {
            response_type: self.owned("response_type"),
            client_id: self.owned("client_id"),
            redirect_uri: self.owned("redirect_uri"),
            scope: self.owned("scope"),
            state: self.owned("state"),
            code_challenge: self.owned("code_challenge"),
            code_challenge_method: self.owned("code_challenge_method"),
        }
    }
}

/// A redirect to the client (`None` only for a URI that does not parse).
pub(crate) fn to_client(redirect: &ClientRedirect) -> Response {
    match redirect_url(redirect) {
        Some(url) => see_other(&url),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Checks an authorization request the way both the endpoint and the
/// consent page do: an error page when the client or the redirect URI is
/// wrong (or repeated), a redirect to the client for any other error.
pub(crate) async fn check(
    state: &OAuthState,
    params: &Params,
) -> Result<pod_ports::oauth::ValidAuthorization, Response> {
    if params.is_repeated("client_id") || params.is_repeated("redirect_uri") {
        return Err(state
            .app
            .error_page(AppError::BadOAuthRequest(OAuthProblem::Repeated)));
    }
    match state
        .oauth
        .service
        .check_authorization(&params.authorize_request())
        .await
    {
        Ok(valid) if params.any_repeated() => Err(to_client(&ClientRedirect::error(
            &valid.redirect_uri,
            "invalid_request",
            "a parameter is repeated",
            valid.state.as_ref(),
        ))),
        Ok(valid) => Ok(valid),
        Err(AuthorizeError::NoRedirect(reason)) => Err(state
            .app
            .error_page(AppError::BadOAuthRequest(reason.into()))),
        Err(AuthorizeError::Redirect(redirect)) => Err(to_client(&redirect)),
        Err(AuthorizeError::Unavailable) => Err(state.app.error_page(AppError::Unavailable)),
    }
}

/// `GET /oauth/authorize`: checked here, then on to the consent page under
/// `/app` with the same query (the session cookie is only sent there).
pub(crate) async fn authorize(state: OAuthState, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let params = Params::parse(query.as_bytes());
    match check(&state, &params).await {
        Ok(_) => see_other(&format!(
            "{}/oauth/authorize?{query}",
            state.app.web.app_path()
        )),
        Err(response) => response,
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// An error of the token or revocation endpoint (RFC 6749 §5.2).
fn error_response(error: &OAuthError) -> Response {
    let status = match error {
        OAuthError::InvalidClient => StatusCode::UNAUTHORIZED,
        OAuthError::Unavailable => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = Json(json!({
        "error": error.code(),
        "error_description": error.description(),
    }));
    let mut response = no_store((status, body).into_response());
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"pod\""),
        );
    }
    response
}

fn token_body(tokens: &TokenResponse) -> Response {
    no_store(
        Json(json!({
            "access_token": tokens.access_token,
            "token_type": "Bearer",
            "expires_in": tokens.expires_in,
            "refresh_token": tokens.refresh_token,
            "scope": tokens.scope,
        }))
        .into_response(),
    )
}

/// One form-urlencoded component decoded (RFC 6749 §2.3.1: the id and the
/// secret in the Basic header are form-encoded first).
fn form_decode(raw: &str) -> String {
    url::form_urlencoded::parse(format!("v={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The client credentials of a request: HTTP Basic (`client_secret_basic`)
/// or `client_id` and `client_secret` in the body (`client_secret_post`),
/// never both.
fn client_credentials(headers: &HeaderMap, params: &Params) -> Result<ClientAuth, OAuthError> {
    let basic = headers.get(header::AUTHORIZATION).map(|value| {
        let value = value.to_str().map_err(|_| OAuthError::InvalidClient)?;
        let (scheme, encoded) = value.split_once(' ').ok_or(OAuthError::InvalidClient)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(OAuthError::InvalidClient);
        }
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(OAuthError::InvalidClient)?;
        let (id, secret) = decoded.split_once(':').ok_or(OAuthError::InvalidClient)?;
        Ok(ClientAuth {
            id: form_decode(id),
            secret: form_decode(secret),
        })
    });
    match (basic, params.get("client_secret")) {
        (Some(_), Some(_)) => Err(OAuthError::InvalidRequest(
            "use one client authentication method, not two",
        )),
        (Some(auth), None) => {
            let auth = auth?;
            match params.get("client_id") {
                Some(id) if id != auth.id => Err(OAuthError::InvalidRequest(
                    "client_id differs from the authenticated client",
                )),
                _ => Ok(auth),
            }
        }
        (None, Some(secret)) => match params.get("client_id") {
            Some(id) => Ok(ClientAuth {
                id: id.to_owned(),
                secret: secret.to_owned(),
            }),
            None => Err(OAuthError::InvalidClient),
        },
        (None, None) => Err(OAuthError::InvalidClient),
    }
}

/// The checks every token and revocation request passes first: a form
/// body, no repeated parameter, an authenticated client.
async fn authenticated(
    state: &OAuthState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(OAuthClient, Params), OAuthError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(OAuthError::InvalidRequest(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let params = Params::parse(body);
    if params.any_repeated() {
        return Err(OAuthError::InvalidRequest("a parameter is repeated"));
    }
    let auth = client_credentials(headers, &params)?;
    let client = state.oauth.service.authenticate(&auth).await?;
    Ok((client, params))
}

/// `POST /oauth/token`.
pub(crate) async fn token(
    State(state): State<OAuthState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let (client, params) = authenticated(&state, &headers, &body).await?;
        let service = &state.oauth.service;
        match params.get("grant_type") {
            None => Err(OAuthError::InvalidRequest("grant_type is missing")),
            Some("authorization_code") => {
                service
                    .exchange_code(
                        &client,
                        params.get("code"),
                        params.get("redirect_uri"),
                        params.get("code_verifier"),
                    )
                    .await
            }
            Some("refresh_token") => {
                service
                    .refresh(&client, params.get("refresh_token"), params.get("scope"))
                    .await
            }
            Some(_) => Err(OAuthError::UnsupportedGrantType),
        }
    }
    .await;
    match result {
        Ok(tokens) => token_body(&tokens),
        Err(error) => error_response(&error),
    }
}

/// `POST /oauth/revoke` (RFC 7009): 200 for any token of this client, and
/// for tokens pod does not know.
pub(crate) async fn revoke(
    State(state): State<OAuthState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let (client, params) = authenticated(&state, &headers, &body).await?;
        let token = params
            .get("token")
            .ok_or(OAuthError::InvalidRequest("token is missing"))?;
        state.oauth.service.revoke(&client, token).await
    }
    .await;
    match result {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(error) => error_response(&error),
    }
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
pub(crate) async fn metadata(State(state): State<OAuthState>) -> Response {
    let issuer = &state.oauth.issuer;
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    let scopes: Vec<&str> = SUPPORTED_SCOPES.iter().map(|(s, _)| *s).collect();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": scopes,
        "op_policy_uri": format!("{issuer}/app/privacy"),
    }))
    .into_response()
}
