//! Signing in and out: pod's passwordless codes or OpenID Connect.
//!
//! Until a sign-in form is posted nothing is stored: the sign-in page is the
//! same for every visitor, its forms protected by the double-submit CSRF
//! cookie ([`super::csrf`]). Posting one (asking for a code, or starting an
//! OpenID Connect login) makes an anonymous session holding the pending
//! sign-in data, and a successful sign-in rotates that session into a new
//! one for the customer. Pages answer alike whether or not a login exists.

use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use std::net::{IpAddr, SocketAddr};

use axum::Extension;
use axum::extract::{ConnectInfo, Query};
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
use super::texts::SignInProblem;
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

/// Who is asking, as the request's session cookie tells.
enum Visitor {
    /// No live session: nothing is stored for this visitor.
    Stranger,
    /// A sign-in under way: the anonymous session with its pending data.
    SigningIn(SessionId, Session),
    /// Signed in already.
    SignedIn,
}

impl Visitor {
    /// The sign-in session's id, if a sign-in is under way.
    fn signing_in(&self) -> Option<SessionId> {
        match self {
            Visitor::SigningIn(id, _) => Some(id.clone()),
            _ => None,
        }
    }
}

/// Reads (never writes) the session the request's cookie names.
async fn visitor(state: &AppState, jar: &CookieJar) -> Result<Visitor, AppError> {
    Ok(match state.session(jar).await? {
        None => Visitor::Stranger,
        Some((_, session)) if session.customer.is_some() => Visitor::SignedIn,
        Some((id, session)) => Visitor::SigningIn(id, session),
    })
}

/// Keeps `pending` in the sign-in session `id`, or, when there is none, in
/// a new anonymous session: the first thing a sign-in stores. `jar` comes
/// back with the new session's cookie.
async fn keep_pending(
    state: &AppState,
    jar: CookieJar,
    id: Option<SessionId>,
    pending: Option<String>,
) -> Result<CookieJar, AppError> {
    if let Some(id) = id {
        match state.web.sessions.set_pending(&id, pending.clone()).await {
            Ok(()) => return Ok(jar),
            // It ended meanwhile (expired, or used): start a new one.
            Err(StoreError::Conflict) => {}
            Err(other) => return Err(other.into()),
        }
    }
    let now = state.now();
    let lifetime = state.web.config.sign_in_lifetime;
    let (id, _) = state
        .web
        .sessions
        .create_session(None, pending, now, now.plus(lifetime))
        .await?;
    Ok(jar.add(state.cookie(&id, lifetime)))
}

/// The sign-in page, its forms carrying the visitor's CSRF token (whose
/// cookie `jar` gets). `pending`: a code was asked for (the passwordless
/// code step).
fn sign_in_page(
    state: &AppState,
    jar: CookieJar,
    pending: bool,
    status: StatusCode,
    notice: Option<String>,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let (csrf, jar) = state.csrf_token(jar)?;
    let policy = state.http.service().policy();
    let (method, code_stage) = match state.web.method {
        SignInMethod::Passwordless => ("passwordless", pending),
        SignInMethod::Oidc { .. } => ("oidc", false),
    };
    let page = render(
        status,
        &SignInPage {
            layout: Layout::new(state, state.texts.sign_in_title, "sign-in").with_csrf(&csrf),
            method,
            code_stage,
            notice,
            error: error.map(str::to_owned),
            code_on_its_way: (state.texts.code_on_its_way)(policy.code_digits()),
            codes_per_hour: (state.texts.codes_per_hour)(policy.max_codes_per_hour()),
        },
    );
    Ok((jar, page).into_response())
}

/// `GET /app/sign-in`. Stores nothing: a visitor without a sign-in under
/// way gets only the CSRF cookie.
pub(crate) async fn page(state: AppState, jar: CookieJar, Query(notice): NoticeQuery) -> Response {
    let result = async {
        let pending = match visitor(&state, &jar).await? {
            Visitor::SignedIn => return Ok(state.redirect("")),
            Visitor::SigningIn(_, session) => session.pending.is_some(),
            Visitor::Stranger => false,
        };
        sign_in_page(
            &state,
            jar,
            pending,
            StatusCode::OK,
            notice.text(state.texts),
            None,
        )
    }
    .await;
    result.unwrap_or_else(|error| state.error_page(error))
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
/// on, the form parses, and its CSRF token is the one in the visitor's CSRF
/// cookie. Nothing is read or written before that. Who is asking, and the
/// form to work on.
async fn passwordless_post<F>(
    state: &AppState,
    jar: &CookieJar,
    form: Result<Form<F>, FormRejection>,
    csrf: impl Fn(&F) -> Option<&str>,
) -> Result<(Visitor, F), AppError> {
    if !matches!(state.web.method, SignInMethod::Passwordless) {
        return Err(AppError::NotFound);
    }
    let Ok(Form(form)) = form else {
        return Err(AppError::Forbidden);
    };
    if !state.double_submitted(jar, csrf(&form)) {
        return Err(AppError::Forbidden);
    }
    Ok((visitor(state, jar).await?, form))
}

/// `POST /app/sign-in`: send a code to the user with this name or email.
/// The first write of a sign-in: the anonymous session that remembers whom
/// the code went to is made here.
pub(crate) async fn send_code(
    state: AppState,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let result = async {
        let (visitor, form) = passwordless_post(&state, &jar, form, |f| f.csrf.as_deref()).await?;
        if matches!(visitor, Visitor::SignedIn) {
            return Ok(state.redirect(""));
        }
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
        let jar = keep_pending(&state, jar, visitor.signing_in(), pending.write()).await?;
        let to = match not_sent {
            Some(notice) => state.redirect(&format!("/sign-in?notice={notice}")),
            None => state.redirect("/sign-in"),
        };
        Ok((jar, to).into_response())
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
    state: AppState,
    jar: CookieJar,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response {
    let result = async {
        let (visitor, form) = passwordless_post(&state, &jar, form, |f| f.csrf.as_deref()).await?;
        let (id, session) = match visitor {
            Visitor::SigningIn(id, session) => (id, session),
            Visitor::SignedIn => return Ok(state.redirect("")),
            // No sign-in under way: it expired, or this form was used
            // already (a replay).
            Visitor::Stranger => return Err(AppError::Forbidden),
        };
        let Some(mut pending) = PendingCode::read(&session) else {
            return Ok(state.redirect("/sign-in"));
        };
        let digits = state.http.service().policy().code_digits();
        let code = match OneTimeCode::parse(&form.code) {
            Ok(code) if code.expose().len() == digits as usize => code,
            _ => return refused_code_page(&state, jar, true, state.texts.digits_only),
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
                return refused_code_page(&state, jar, true, state.texts.wrong_code);
            }
            CodeOutcome::Expired => state.texts.code_expired,
            CodeOutcome::Locked => state.texts.codes_paused,
            _ => state.texts.wrong_too_often,
        };
        // Forget the code asked for and show the first step again.
        state.web.sessions.set_pending(&id, None).await?;
        refused_code_page(&state, jar, false, start_over_because)
    }
    .await;
    result.unwrap_or_else(|error| state.error_page(error))
}

/// The sign-in page answering an entered code with `message` (422): the
/// code step again when `pending`, else the first step.
fn refused_code_page(
    state: &AppState,
    jar: CookieJar,
    pending: bool,
    message: &str,
) -> Result<Response, AppError> {
    sign_in_page(
        state,
        jar,
        pending,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
        Some(message),
    )
}

/// Rotates the sign-in session into the customer's and goes to the orders.
/// The CSRF cookie goes: the signed-in session has a token of its own.
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
    let jar = jar
        .add(state.cookie(&new_id, lifetime))
        .remove(state.csrf_cookie_attributes());
    Ok((jar, to).into_response())
}

/// `POST /app/sign-in/restart`: forget the sign-in under way (the code asked
/// for) and start again.
pub(crate) async fn restart(
    state: AppState,
    jar: CookieJar,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let result = async {
        let csrf = form.as_ref().ok().and_then(|f| f.csrf.as_deref());
        if !state.double_submitted(&jar, csrf) {
            return Err(AppError::Forbidden);
        }
        let jar = match visitor(&state, &jar).await? {
            Visitor::SigningIn(id, _) => {
                state.web.sessions.delete_session(&id).await?;
                jar.remove(state.cookie_attributes())
            }
            Visitor::Stranger | Visitor::SignedIn => jar,
        };
        Ok((jar, state.redirect("/sign-in")).into_response())
    }
    .await;
    result.unwrap_or_else(|error: AppError| state.error_page(error))
}

/// `GET /app/login?csrf=`: off to the OpenID Connect provider. The state,
/// nonce and PKCE verifier wait in the anonymous session, made here.
///
/// A link rather than a form: browsers apply the Content-Security-Policy's
/// `form-action 'self'` to a form's redirects too, and this one goes to the
/// provider. So the link carries the CSRF token (a redirect, never a page
/// URL: with `Referrer-Policy: same-origin` it reaches no other host, and pod
/// logs no URIs), and nothing is stored unless it matches the CSRF cookie.
/// Without a token (an old link) the sign-in page answers.
pub(crate) async fn oidc_login(
    state: AppState,
    jar: CookieJar,
    query: Result<Query<CsrfForm>, QueryRejection>,
) -> Response {
    let result = async {
        let SignInMethod::Oidc {
            login,
            redirect_uri,
            ..
        } = &state.web.method
        else {
            return Err(AppError::NotFound);
        };
        let csrf = query.as_ref().ok().and_then(|q| q.csrf.as_deref());
        if csrf.is_none() {
            return Ok(state.redirect("/sign-in"));
        }
        if !state.double_submitted(&jar, csrf) {
            return Err(AppError::Forbidden);
        }
        let visitor = visitor(&state, &jar).await?;
        if matches!(visitor, Visitor::SignedIn) {
            return Ok(state.redirect(""));
        }
        let start = login.begin_login(redirect_uri).map_err(|error| {
            warn!(%error, "cannot start a login");
            AppError::Unavailable
        })?;
        let jar = keep_pending(&state, jar, visitor.signing_in(), Some(start.pending)).await?;
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
    state: AppState,
    jar: CookieJar,
    query: Result<Query<Callback>, QueryRejection>,
) -> Response {
    let result = async {
        let SignInMethod::Oidc { login, .. } = &state.web.method else {
            return Err(AppError::NotFound);
        };
        let expired = AppError::BadRequest(SignInProblem::Expired);
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
            return Err(AppError::BadRequest(SignInProblem::Refused));
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
                return Err(AppError::BadRequest(SignInProblem::Unverified));
            }
        };
        let unlocked = state.web.sign_in.signed_in(&customer).await?;
        sign_in_as(&state, jar, &id, &customer, unlocked).await
    }
    .await;
    result.unwrap_or_else(|error| state.error_page(error))
}

/// The session of a form post whose CSRF token is the session's own.
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

/// `POST /app/sign-out`: delete the session (and sign out at the provider).
pub(crate) async fn sign_out(
    state: AppState,
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
