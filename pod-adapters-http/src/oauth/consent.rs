//! The pages a person sees: the consent page of an authorization request,
//! and the linked skills with Unlink.

use askama::Template;
use axum::Form;
use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, RawQuery};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use pod_domain::Timestamp;
use pod_ports::oauth::{GrantId, SUPPORTED_SCOPES};
use serde::Deserialize;

use super::endpoints::{OAuthState, Params, check, to_client};
use super::{origin_of, remember_return};
use crate::app::texts::OAuthProblem;
use crate::app::views::{Layout, render};
use crate::app::{AppError, CONTENT_SECURITY_POLICY, csrf_matches};

#[derive(Template)]
#[template(path = "oauth_consent.html")]
pub(crate) struct ConsentPage {
    pub(crate) layout: Layout,
    /// "Link Pizza on Demand for Alexa?"
    pub(crate) heading: String,
    pub(crate) client_name: String,
    pub(crate) customer: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) scope: String,
    pub(crate) state: Option<String>,
    pub(crate) code_challenge: Option<String>,
}

/// One linked skill on the page.
#[derive(Debug, Clone)]
pub(crate) struct LinkView {
    pub(crate) grant: String,
    pub(crate) name: String,
    /// "linked 2026-12-01 16:09 UTC".
    pub(crate) since: String,
    /// The Unlink button's accessible name.
    pub(crate) unlink_label: String,
}

#[derive(Template)]
#[template(path = "linked.html")]
pub(crate) struct LinkedPage {
    pub(crate) layout: Layout,
    pub(crate) notice: Option<String>,
    pub(crate) links: Vec<LinkView>,
}

/// `2026-12-01 16:09 UTC`.
fn day_and_time(at: Timestamp) -> String {
    let iso = at.to_rfc3339();
    match (iso.get(0..10), iso.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => iso,
    }
}

/// `GET /app/oauth/authorize`: sign in first (and come back here), then
/// Allow or Deny.
pub(crate) async fn page(state: OAuthState, jar: CookieJar, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let params = Params::parse(query.as_bytes());
    let valid = match check(&state, &params).await {
        Ok(valid) => valid,
        Err(response) => return response,
    };
    let app = &state.app;
    let (_, session, customer) = match app.signed_in(&jar).await {
        Ok(signed_in) => signed_in,
        Err(AppError::SignInFirst) => {
            let back = format!("{}/oauth/authorize?{query}", app.web.app_path());
            let jar = remember_return(app, jar, &back);
            return (jar, app.redirect("/sign-in?notice=link")).into_response();
        }
        Err(other) => return app.error_page(other),
    };
    // The service refuses scopes pod does not know; just in case, one
    // shows as its English description or its name.
    let scopes = valid
        .scopes
        .iter()
        .map(|s| {
            app.texts
                .scope(s)
                .or_else(|| {
                    SUPPORTED_SCOPES
                        .iter()
                        .find(|(k, _)| k == s)
                        .map(|(_, text)| *text)
                })
                .map_or_else(|| s.clone(), str::to_owned)
        })
        .collect();
    let mut response = render(
        StatusCode::OK,
        &ConsentPage {
            layout: Layout::new(app, app.texts.consent_title, "linked")
                .signed_in(&session.csrf_token),
            heading: (app.texts.consent_heading)(&valid.client_name),
            client_name: valid.client_name.clone(),
            customer: customer.to_string(),
            scopes,
            client_id: valid.client_id.clone(),
            redirect_uri: valid.redirect_uri.clone(),
            scope: valid.scope(),
            state: valid.state.clone(),
            code_challenge: valid.code_challenge.clone(),
        },
    );
    // The answer to this form redirects to the client: its origin must be
    // an allowed form action, or the browser stops the redirect.
    let csp = match origin_of(&valid.redirect_uri) {
        Some(origin) => CONTENT_SECURITY_POLICY.replace(
            "form-action 'self'",
            &format!("form-action 'self' {origin}"),
        ),
        None => CONTENT_SECURITY_POLICY.to_owned(),
    };
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// `POST /app/oauth/authorize`: Allow (a code for the client) or Deny
/// (`access_denied`), both as a redirect to the client.
pub(crate) async fn decide(state: OAuthState, jar: CookieJar, body: Bytes) -> Response {
    let app = &state.app;
    let params = Params::parse(&body);
    let (_, session, customer) = match app.signed_in(&jar).await {
        Ok(signed_in) => signed_in,
        Err(AppError::SignInFirst) => return app.error_page(AppError::Forbidden),
        Err(other) => return app.error_page(other),
    };
    if params.is_repeated("csrf") || !csrf_matches(params.get("csrf"), &session) {
        return app.error_page(AppError::Forbidden);
    }
    let valid = match check(&state, &params).await {
        Ok(valid) => valid,
        Err(response) => return response,
    };
    match params.get("decision") {
        Some("allow") => match state.oauth.service.approve(&valid, &customer).await {
            Ok(redirect) => to_client(&redirect),
            Err(_) => app.error_page(AppError::Unavailable),
        },
        Some("deny") => to_client(&state.oauth.service.deny(&valid)),
        _ => app.error_page(AppError::BadOAuthRequest(OAuthProblem::NoDecision)),
    }
}

#[derive(Deserialize)]
pub(crate) struct LinkedQuery {
    #[serde(default)]
    notice: Option<String>,
}

/// `GET /app/linked`: the skills linked to this account.
pub(crate) async fn linked(
    state: OAuthState,
    jar: CookieJar,
    Query(query): Query<LinkedQuery>,
) -> Response {
    let app = &state.app;
    let result = async {
        let (_, session, customer) = app.signed_in(&jar).await?;
        let links = state.oauth.service.linked(&customer).await?;
        let notice = match query.notice.as_deref() {
            Some("unlinked") => Some(app.texts.notice_unlinked.to_owned()),
            _ => None,
        };
        Ok(render(
            StatusCode::OK,
            &LinkedPage {
                layout: Layout::new(app, app.texts.linked_title, "linked")
                    .signed_in(&session.csrf_token),
                notice,
                links: links
                    .into_iter()
                    .map(|l| LinkView {
                        grant: l.grant.id.to_string(),
                        since: (app.texts.linked_since)(&day_and_time(l.grant.created_at)),
                        unlink_label: (app.texts.unlink_label)(&l.client_name),
                        name: l.client_name,
                    })
                    .collect(),
            },
        ))
    }
    .await;
    result.unwrap_or_else(|error: AppError| app.error_page(error))
}

#[derive(Deserialize)]
pub(crate) struct UnlinkForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    grant: String,
}

/// `POST /app/linked/unlink`: revoke one linked skill's grant, its tokens
/// with it.
pub(crate) async fn unlink(
    state: OAuthState,
    jar: CookieJar,
    form: Result<Form<UnlinkForm>, FormRejection>,
) -> Response {
    let app = &state.app;
    let result = async {
        let (_, session, customer) = match app.signed_in(&jar).await {
            Ok(signed_in) => signed_in,
            Err(AppError::SignInFirst) => return Err(AppError::Forbidden),
            Err(other) => return Err(other),
        };
        let Ok(Form(form)) = form else {
            return Err(AppError::Forbidden);
        };
        if !csrf_matches(form.csrf.as_deref(), &session) {
            return Err(AppError::Forbidden);
        }
        let grant = GrantId::parse(form.grant)
            .ok_or(AppError::BadOAuthRequest(OAuthProblem::NoSuchLink))?;
        state.oauth.service.unlink(&customer, &grant).await?;
        Ok(app.redirect("/linked?notice=unlinked"))
    }
    .await;
    result.unwrap_or_else(|error| app.error_page(error))
}
