//! Signing in and out: pod's passwordless codes or OpenID Connect.
//!
//! A sign-in starts with an anonymous session (its own CSRF token and the
//! pending sign-in data) and ends with that session rotated into a new one
//! for the customer. Pages answer alike whether or not a login exists.

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use std::net::{IpAddr, SocketAddr};

use axum::Extension;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use pod_domain::CustomerId;
use pod_ports::{
    CodeOutcome, LoginError, OneTimeCode, ServiceError, Session, SessionId, StartOutcome,
    StoreError,
};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::pages::{CsrfForm, Notice};
use super::views::{Layout, SignInPage, render};
use super::{AppError, AppState, SignInMethod, csrf_matches, see_other};

/// Whom a passwordless sign-in code went to, kept in the session. `customer`
/// is `None` for a login that matched nobody; wrong codes are counted for
/// it too, so both cases behave alike.
#[derive(Serialize, Deserialize, Default)]
struct PendingCode {
    customer: Option<String>,
    #[serde(default)]
    failures: u32,
}

impl PendingCode {
    fn read(session: &Session) -> Option<PendingCode> {
        serde_json::from_str(session.pending.as_deref()?).ok()
    }

    fn write(&self) -> Option<String> {
        serde_json::to_string(self).ok()
    }
}

/// `?notice=` of the sign-in page.
type NoticeQuery = Query<Notice>;

/// The anonymous session of a sign-in under way, made if there is none
/// (then `jar` comes back with its cookie). `Ok(None)` when the visitor is
/// signed in already.
async fn anonymous_session(
    state: &AppState,
    jar: CookieJar,
) -> Result<Option<(SessionId, Session, CookieJar)>, AppError> {
    match state.session(&jar).await? {
        Some((_, session)) if session.customer.is_some() => Ok(None),
        Some((id, session)) => Ok(Some((id, session, jar))),
        None => {
            let now = state.now();
            let lifetime = state.web.config.sign_in_lifetime;
            let (id, session) = state
                .web
                .sessions
                .create_session(None, None, now, now.plus(lifetime))
                .await?;
            let jar = jar.add(state.cookie(&id, lifetime));
            Ok(Some((id, session, jar)))
        }
    }
}

/// The sign-in session of a form post whose CSRF token matches.
async fn posted_session(
    state: &AppState,
    jar: &CookieJar,
    csrf: Option<&str>,
) -> Result<(SessionId, Session), AppError> {
    match state.session(jar).await? {
        Some((id, session)) if csrf_matches(csrf, &session) => Ok((id, session)),
        _ => Err(AppError::Forbidden),
    }
}

fn sign_in_page(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    notice: Option<String>,
    error: Option<&str>,
) -> Response {
    let policy = state.http.service().policy();
    let (method, code_stage) = match state.web.method {
        SignInMethod::Passwordless => ("passwordless", session.pending.is_some()),
        SignInMethod::Oidc { .. } => ("oidc", false),
    };
    render(
        status,
        &SignInPage {
            layout: Layout::new(state, "Sign in", "sign-in").with_csrf(&session.csrf_token),
            method,
            code_stage,
            notice,
            error: error.map(str::to_owned),
            code_digits: policy.code_digits(),
            codes_per_hour: policy.max_codes_per_hour(),
        },
    )
}

/// `GET /app/sign-in`.
pub(crate) async fn page(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(notice): NoticeQuery,
) -> Response {
    match anonymous_session(&state, jar).await {
        Ok(Some((_, session, jar))) => (
            jar,
            sign_in_page(&state, &session, StatusCode::OK, notice.text(), None),
        )
            .into_response(),
        Ok(None) => state.redirect(""),
        Err(error) => state.error_page(error),
    }
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    login: String,
}

/// The address the proxy in front of pod saw: the last entry of
/// `X-Forwarded-For` (earlier entries are whatever the client claimed).
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?;
    last.to_str().ok()?.rsplit(',').next()?.trim().parse().ok()
}

/// What both passwordless form handlers check first: passwordless sign-in is
/// on, the form parses, and its CSRF token is the session's. The session and
/// the form to work on; `Ok(None)` when the visitor is signed in already.
async fn passwordless_post<F>(
    state: &AppState,
    jar: &CookieJar,
    form: Result<Form<F>, FormRejection>,
    csrf: impl Fn(&F) -> Option<&str>,
) -> Result<Option<(SessionId, Session, F)>, AppError> {
    if !matches!(state.web.method, SignInMethod::Passwordless) {
        return Err(AppError::NotFound);
    }
    let Ok(Form(form)) = form else {
        return Err(AppError::Forbidden);
    };
    let (id, session) = posted_session(state, jar, csrf(&form)).await?;
    if session.customer.is_some() {
        return Ok(None);
    }
    Ok(Some((id, session, form)))
}

/// `POST /app/sign-in`: send a code to the user with this name or email.
pub(crate) async fn send_code(
    State(state): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let result = async {
        let Some((id, _, form)) =
            passwordless_post(&state, &jar, form, |f| f.csrf.as_deref()).await?
        else {
            return Ok(state.redirect(""));
        };
        let forwarded = state
            .web
            .config
            .trust_forwarded_for
            .then(|| forwarded_for(&headers))
            .flatten();
        let client = forwarded.or(client.map(|Extension(ConnectInfo(addr))| addr.ip()));
        // A code was sent, or the page says why not. Saying so for a known
        // login that is rate limited or locked tells whoever asked that the
        // login exists; only someone who already made the owner receive
        // codes gets that far, and the owner needs to know.
        let (customer, not_sent) = match state.web.sign_in.start(&form.login, client).await {
            Ok(StartOutcome::CodeSent { customer, .. }) => (Some(customer), None),
            Ok(StartOutcome::RateLimited { customer }) => (Some(customer), Some("not-sent-limit")),
            Ok(StartOutcome::Locked { customer }) => (Some(customer), Some("not-sent-locked")),
            Ok(StartOutcome::ClientRateLimited) => (None, Some("not-sent-address")),
            Ok(StartOutcome::UnknownLogin | StartOutcome::NoContactPoint) => (None, None),
            // Only a known login gets as far as delivering a code: answer
            // as if it had worked, so the page does not tell.
            Err(ServiceError::CodeDelivery(reason)) => {
                warn!(%reason, "sign-in code not delivered");
                (None, None)
            }
            Err(other) => return Err(other.into()),
        };
        let pending = PendingCode {
            customer: customer.map(|c| c.to_string()),
            failures: 0,
        };
        state.web.sessions.set_pending(&id, pending.write()).await?;
        Ok(match not_sent {
            Some(notice) => state.redirect(&format!("/sign-in?notice={notice}")),
            None => state.redirect("/sign-in"),
        })
    }
    .await;
    result.unwrap_or_else(|error| state.error_page(error))
}

#[derive(Deserialize)]
pub(crate) struct CodeForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    code: String,
}

/// `POST /app/sign-in/code`: check the code; sign in on success.
pub(crate) async fn enter_code(
    State(state): State<AppState>,
    jar: CookieJar,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response {
    let result = async {
        let Some((id, session, form)) =
            passwordless_post(&state, &jar, form, |f| f.csrf.as_deref()).await?
        else {
            return Ok(state.redirect(""));
        };
        let Some(mut pending) = PendingCode::read(&session) else {
            return Ok(state.redirect("/sign-in"));
        };
        let digits = state.http.service().policy().code_digits();
        let code = match OneTimeCode::parse(&form.code) {
            Ok(code) if code.expose().len() == digits as usize => code,
            _ => {
                return Ok(refused_code_page(
                    &state,
                    &session,
                    "Enter the code as digits only.",
                ));
            }
        };
        let customer = pending
            .customer
            .as_deref()
            .and_then(|c| CustomerId::parse(c).ok());
        let outcome = match &customer {
            Some(customer) => state.web.sign_in.verify(customer, &code).await?,
            None => {
                let limit = state.http.service().policy().max_failed_attempts();
                if pending.failures.saturating_add(1) >= limit {
                    CodeOutcome::TooManyAttempts
                } else {
                    CodeOutcome::WrongCode
                }
            }
        };
        let start_over_because = match outcome {
            CodeOutcome::SignedIn { customer, unlocked } => {
                return sign_in_as(&state, jar, &id, &customer, unlocked).await;
            }
            CodeOutcome::WrongCode => {
                pending.failures = pending.failures.saturating_add(1);
                state.web.sessions.set_pending(&id, pending.write()).await?;
                return Ok(refused_code_page(
                    &state,
                    &session,
                    "That code is not right. Check it and try again.",
                ));
            }
            CodeOutcome::Expired => "That code has expired. Ask for a new one.",
            CodeOutcome::Locked => {
                "Too many wrong codes: codes for this account are paused for a while."
            }
            _ => "That code was wrong too often. Ask for a new one.",
        };
        start_over(&state, &id, session, start_over_because).await
    }
    .await;
    result.unwrap_or_else(|error| state.error_page(error))
}

/// Forgets the code asked for and shows the first sign-in step with `message`.
async fn start_over(
    state: &AppState,
    id: &SessionId,
    mut session: Session,
    message: &str,
) -> Result<Response, AppError> {
    state.web.sessions.set_pending(id, None).await?;
    session.pending = None;
    Ok(refused_code_page(state, &session, message))
}

/// The sign-in page answering an entered code with `message` (422).
fn refused_code_page(state: &AppState, session: &Session, message: &str) -> Response {
    sign_in_page(
        state,
        session,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
        Some(message),
    )
}

/// Rotates the sign-in session into the customer's and goes to the orders.
async fn sign_in_as(
    state: &AppState,
    jar: CookieJar,
    id: &SessionId,
    customer: &CustomerId,
    unlocked: bool,
) -> Result<Response, AppError> {
    let now = state.now();
    let lifetime = state.web.config.session_lifetime;
    let (new_id, _) = match state
        .web
        .sessions
        .rotate_session(id, customer, now, now.plus(lifetime))
        .await
    {
        Ok(made) => made,
        // The sign-in session was used already (a replayed form).
        Err(StoreError::Conflict) => return Err(AppError::Forbidden),
        Err(other) => return Err(other.into()),
    };
    info!(%customer, unlocked, "signed in to the web app");
    let notice = if unlocked { "unlocked" } else { "signed-in" };
    // Back to an account-linking consent page, when that is where the
    // person was going.
    let (jar, back) = crate::oauth::take_return(state, jar);
    let to = match back {
        Some(back) => see_other(&back),
        None => state.redirect(&format!("?notice={notice}")),
    };
    Ok((jar.add(state.cookie(&new_id, lifetime)), to).into_response())
}

/// `POST /app/sign-in/restart`: forget the code asked for.
pub(crate) async fn restart(
    State(state): State<AppState>,
    jar: CookieJar,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let result = async {
        let csrf = form.as_ref().ok().and_then(|f| f.csrf.as_deref());
        let (id, session) = posted_session(&state, &jar, csrf).await?;
        if session.customer.is_none() {
            state.web.sessions.set_pending(&id, None).await?;
        }
        Ok(state.redirect("/sign-in"))
    }
    .await;
    result.unwrap_or_else(|error: AppError| state.error_page(error))
}

/// `GET /app/login`: off to the OpenID Connect provider.
pub(crate) async fn oidc_login(State(state): State<AppState>, jar: CookieJar) -> Response {
    let result = async {
        let SignInMethod::Oidc {
            login,
            redirect_uri,
            ..
        } = &state.web.method
        else {
            return Err(AppError::NotFound);
        };
        let Some((id, _, jar)) = anonymous_session(&state, jar).await? else {
            return Ok(state.redirect(""));
        };
        let start = login.begin_login(redirect_uri).map_err(|error| {
            warn!(%error, "cannot start a login");
            AppError::Unavailable
        })?;
        state
            .web
            .sessions
            .set_pending(&id, Some(start.pending))
            .await?;
        Ok((jar, see_other(&start.authorize_url)).into_response())
    }
    .await;
    result.unwrap_or_else(|error| state.error_page(error))
}

#[derive(Deserialize)]
pub(crate) struct Callback {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// `GET /app/callback`: the provider sends the browser back here.
pub(crate) async fn oidc_callback(
    State(state): State<AppState>,
    jar: CookieJar,
    query: Result<Query<Callback>, QueryRejection>,
) -> Response {
    let result = async {
        let SignInMethod::Oidc { login, .. } = &state.web.method else {
            return Err(AppError::NotFound);
        };
        let expired = AppError::BadRequest(
            "This sign-in is no longer valid. Please start signing in again.",
        );
        let Some((id, session)) = state.session(&jar).await? else {
            return Err(expired);
        };
        if session.customer.is_some() {
            return Ok(state.redirect(""));
        }
        let Some(pending) = session.pending.clone() else {
            return Err(expired);
        };
        // One callback per login, whatever it brings.
        state.web.sessions.set_pending(&id, None).await?;
        let Ok(Query(callback)) = query else {
            return Err(expired);
        };
        if let Some(error) = callback.error.as_deref() {
            info!(error = %error.chars().take(64).collect::<String>(), "login refused at the provider");
            return Err(AppError::BadRequest(
                "Sign-in was cancelled or refused. Please try again.",
            ));
        }
        let (Some(code), Some(returned_state)) = (callback.code, callback.state) else {
            return Err(expired);
        };
        let customer = match login
            .complete_login(&pending, &returned_state, &code)
            .await
        {
            Ok(customer) => customer,
            Err(LoginError::Unavailable(reason)) => {
                warn!(%reason, "login provider unavailable");
                return Err(AppError::Unavailable);
            }
            Err(error) => {
                warn!(%error, "login rejected");
                return Err(AppError::BadRequest(
                    "Sign-in could not be verified. Please start signing in again.",
                ));
            }
        };
        let unlocked = state.web.sign_in.signed_in(&customer).await?;
        sign_in_as(&state, jar, &id, &customer, unlocked).await
    }
    .await;
    result.unwrap_or_else(|error| state.error_page(error))
}

/// `POST /app/sign-out`: delete the session (and sign out at the provider).
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    jar: CookieJar,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let result = async {
        let csrf = form.as_ref().ok().and_then(|f| f.csrf.as_deref());
        let (id, _) = posted_session(&state, &jar, csrf).await?;
        state.web.sessions.delete_session(&id).await?;
        let to = match &state.web.method {
            SignInMethod::Oidc {
                login,
                post_logout_uri,
                ..
            } => see_other(&login.logout_url(post_logout_uri)),
            SignInMethod::Passwordless => state.redirect("/sign-in?notice=signed-out"),
        };
        Ok((jar.remove(state.cookie_attributes()), to).into_response())
    }
    .await;
    result.unwrap_or_else(|error: AppError| state.error_page(error))
}
