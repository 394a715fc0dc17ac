//! The orders, profile, privacy and fallback pages, and clearing orders.

use axum::Form;
use axum::extract::Query;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use pod_domain::Destination;
use serde::Deserialize;

use super::texts::WebTexts;
use super::views::{
    Layout, OrdersPage, OrdersView, PrivacyPage, ProfilePage, render, text_to_html,
};
use super::{AppError, AppState, PrivacyPolicy, csrf_matches};

/// `?notice=` after a redirect: a fixed message, never text from the URL.
#[derive(Deserialize)]
pub(crate) struct Notice {
    #[serde(default)]
    notice: Option<String>,
}

impl Notice {
    pub(crate) fn text(&self, t: &WebTexts) -> Option<String> {
        let text = match self.notice.as_deref()? {
            "signed-in" => t.notice_signed_in,
            "unlocked" => t.notice_unlocked,
            "cleared" => t.notice_cleared,
            "signed-out" => t.notice_signed_out,
            "link" => t.notice_link,
            "not-sent-limit" => t.notice_not_sent_limit,
            "not-sent-locked" => t.notice_not_sent_locked,
            "not-sent-address" => t.notice_not_sent_address,
            _ => return None,
        };
        Some(text.to_owned())
    }
}

/// A form that carries only the CSRF token.
#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    pub(crate) csrf: Option<String>,
}

/// `GET /app`: the orders page.
pub(crate) async fn orders(
    state: AppState,
    jar: CookieJar,
    Query(notice): Query<Notice>,
) -> Response {
    match orders_page(&state, &jar, notice.text(state.texts)).await {
        Ok(response) => response,
        Err(error) => state.error_page(error),
    }
}

/// The customer's orders as the page shows them now.
pub(crate) async fn orders_view(
    state: &AppState,
    customer: &pod_domain::CustomerId,
) -> Result<OrdersView, AppError> {
    let orders = state.http.service().orders_of(customer).await?;
    Ok(OrdersView::new(
        &orders,
        state.now(),
        state.http.service().policy(),
        state.texts,
    ))
}

async fn orders_page(
    state: &AppState,
    jar: &CookieJar,
    notice: Option<String>,
) -> Result<Response, AppError> {
    let (_, session, customer) = state.signed_in(jar).await?;
    let orders = orders_view(state, &customer).await?;
    Ok(render(
        StatusCode::OK,
        &OrdersPage {
            layout: Layout::new(state, state.texts.orders_title, "orders")
                .signed_in(&session.csrf_token),
            notice,
            orders,
        },
    ))
}

/// `POST /app/orders/clear`.
pub(crate) async fn clear(
    state: AppState,
    jar: CookieJar,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let result = async {
        let (_, session, customer) = match state.signed_in(&jar).await {
            Ok(signed_in) => signed_in,
            Err(AppError::SignInFirst) => return Err(AppError::Forbidden),
            Err(other) => return Err(other),
        };
        let csrf = form.as_ref().ok().and_then(|f| f.csrf.as_deref());
        if !csrf_matches(csrf, &session) {
            return Err(AppError::Forbidden);
        }
        state.http.service().clear_confirmed(&customer).await?;
        Ok(state.redirect("?notice=cleared"))
    }
    .await;
    result.unwrap_or_else(|error| state.error_page(error))
}

/// `GET /app/profile`.
pub(crate) async fn profile(state: AppState, jar: CookieJar) -> Response {
    let result = async {
        let (_, session, customer) = state.signed_in(&jar).await?;
        let contacts = match state.web.directory.contact_points(&customer).await {
            Ok(contacts) => contacts,
            Err(error) => {
                tracing::warn!(%error, "profile: contact points unavailable");
                return Err(AppError::Unavailable);
            }
        };
        let codes_go_to = match contacts.preferred_destination() {
            Some(d) => match d.channel() {
                pod_domain::Channel::Sms => (state.texts.codes_by_sms)(&d.masked()),
                pod_domain::Channel::Email => (state.texts.codes_by_email)(&d.masked()),
            },
            None => state.texts.codes_nowhere.to_owned(),
        };
        let phone = contacts
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(mask_phone);
        Ok(render(
            StatusCode::OK,
            &ProfilePage {
                layout: Layout::new(&state, state.texts.profile_title, "profile")
                    .signed_in(&session.csrf_token),
                customer: customer.to_string(),
                email: contacts.email.filter(|e| !e.trim().is_empty()),
                phone,
                codes_go_to,
            },
        ))
    }
    .await;
    result.unwrap_or_else(|error| state.error_page(error))
}

/// A phone number with all but its country-code start and last two digits
/// hidden: `+1 ••• ••• ••23`.
fn mask_phone(phone: &str) -> String {
    let masked = Destination::sms(phone).masked();
    let tail = masked.trim_start_matches('*');
    let prefix: String = phone.chars().take_while(|c| *c == '+').collect::<String>()
        + &phone
            .chars()
            .skip_while(|c| *c == '+')
            .take(1)
            .collect::<String>();
    format!("{prefix} ••• ••• ••{tail}")
}

/// `GET /app/privacy`: public, at a stable address for the Alexa console.
pub(crate) async fn privacy(state: AppState, jar: CookieJar) -> Response {
    let session = state.session(&jar).await.ok().flatten();
    let mut layout = Layout::new(&state, state.texts.privacy_title, "privacy");
    if let Some((_, session)) = session.filter(|(_, s)| s.customer.is_some()) {
        layout = layout.signed_in(&session.csrf_token);
    }
    let custom = match &state.web.config.privacy_policy {
        PrivacyPolicy::Default => None,
        PrivacyPolicy::Html(html) => Some(html.clone()),
        PrivacyPolicy::Text(text) => Some(text_to_html(text)),
    };
    render(StatusCode::OK, &PrivacyPage { layout, custom })
}

/// Any other path under `/app`.
pub(crate) async fn not_found(state: AppState) -> Response {
    state.error_page(AppError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_partly_masked() {
        assert_eq!(mask_phone("+15550100123"), "+1 ••• ••• ••23");
        assert_eq!(mask_phone("5550100"), "5 ••• ••• ••00");
    }
}
