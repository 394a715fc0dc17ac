//! What the templates show, and rendering them.

use askama::Template;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use pod_domain::{Channel, ConfirmationPolicy, Order, OrderState, Timestamp};
use tracing::error;

use super::AppState;
use super::assets::{SCRIPT, STYLESHEET};
use super::texts::WebTexts;

/// What every page's frame needs.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// `<base>/app`.
    pub(crate) app: String,
    pub(crate) css: String,
    pub(crate) js: String,
    pub(crate) title: String,
    /// The session's CSRF token (empty when there is no session).
    pub(crate) csrf: String,
    pub(crate) signed_in: bool,
    /// Which navigation entry is current: `orders`, `profile`, `privacy`, `sign-in`.
    pub(crate) current: &'static str,
    /// The words of the request's language.
    pub(crate) t: &'static WebTexts,
}

impl Layout {
    pub(crate) fn new(state: &AppState, title: &str, current: &'static str) -> Self {
        let app = state.web.app_path();
        Layout {
            css: format!("{app}/assets/{}", STYLESHEET.hashed_name),
            js: format!("{app}/assets/{}", SCRIPT.hashed_name),
            app,
            title: title.to_owned(),
            csrf: String::new(),
            signed_in: false,
            current,
            t: state.texts,
        }
    }

    pub(crate) fn signed_in(mut self, csrf: &str) -> Self {
        self.csrf = csrf.to_owned();
        self.signed_in = true;
        self
    }

    pub(crate) fn with_csrf(mut self, csrf: &str) -> Self {
        self.csrf = csrf.to_owned();
        self
    }
}

/// A point in time as the page shows it: machine-readable for the script,
/// and a UTC label that reads without it.
#[derive(Debug, Clone)]
pub(crate) struct When {
    pub(crate) iso: String,
    pub(crate) label: String,
}

impl When {
    fn new(at: Timestamp) -> Self {
        let iso = at.to_rfc3339();
        let label = match (iso.get(0..10), iso.get(11..16)) {
            (Some(date), Some(time)) => format!("{date} {time} UTC"),
            _ => iso.clone(),
        };
        When { iso, label }
    }
}

/// The pending order.
#[derive(Debug, Clone)]
pub(crate) struct PendingView {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) toppings: String,
    pub(crate) placed: When,
    pub(crate) place: &'static str,
    pub(crate) sent_to: String,
    pub(crate) expires: When,
    pub(crate) time_left_ms: u128,
    pub(crate) time_left: String,
    pub(crate) attempts_left: u32,
}

/// A confirmed order.
#[derive(Debug, Clone)]
pub(crate) struct ConfirmedView {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) toppings: String,
    pub(crate) confirmed: When,
}

/// The orders part of the page (also sent over the event stream).
#[derive(Debug, Clone, Default)]
pub(crate) struct OrdersView {
    pub(crate) pending: Option<PendingView>,
    pub(crate) confirmed: Vec<ConfirmedView>,
}

/// "4 min 05 s".
fn duration_label(millis: u128) -> String {
    let seconds = millis.div_ceil(1000);
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s} s"),
        (m, s) => format!("{m} min {s:02} s"),
    }
}

impl OrdersView {
    /// The customer's pending order and confirmed orders (newest first, as
    /// the store lists them) at `now`.
    pub(crate) fn new(
        orders: &[Order],
        now: Timestamp,
        policy: &ConfirmationPolicy,
        t: &WebTexts,
    ) -> Self {
        let pending = orders.iter().find_map(|order| {
            let waiting = order.awaiting()?;
            let left = waiting.expires_at().since(now).as_millis();
            Some(PendingView {
                id: order.id().to_string(),
                title: (t.pizza_title)(order),
                toppings: (t.pizza_toppings)(order),
                placed: When::new(order.placed_at()),
                place: match waiting.channel() {
                    Channel::Sms => t.your_phone,
                    Channel::Email => t.your_email,
                },
                sent_to: waiting.masked_destination().to_owned(),
                expires: When::new(waiting.expires_at()),
                time_left_ms: left,
                time_left: duration_label(left),
                attempts_left: policy
                    .max_failed_attempts()
                    .saturating_sub(waiting.failed_attempts()),
            })
        });
        let confirmed = orders
            .iter()
            .filter_map(|order| match order.state() {
                OrderState::Confirmed { at } => Some(ConfirmedView {
                    id: order.id().to_string(),
                    title: (t.pizza_title)(order),
                    toppings: (t.pizza_toppings)(order),
                    confirmed: When::new(*at),
                }),
                _ => None,
            })
            .collect();
        OrdersView { pending, confirmed }
    }
}

/// The orders page.
#[derive(Template)]
#[template(path = "orders.html")]
pub(crate) struct OrdersPage {
    pub(crate) layout: Layout,
    pub(crate) notice: Option<String>,
    pub(crate) orders: OrdersView,
}

/// Only the orders part, for the event stream.
#[derive(Template)]
#[template(path = "orders_list.html")]
pub(crate) struct OrdersFragment {
    pub(crate) layout: Layout,
    pub(crate) orders: OrdersView,
}

/// The profile page.
#[derive(Template)]
#[template(path = "profile.html")]
pub(crate) struct ProfilePage {
    pub(crate) layout: Layout,
    pub(crate) customer: String,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) codes_go_to: String,
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "sign_in.html")]
pub(crate) struct SignInPage {
    pub(crate) layout: Layout,
    /// `passwordless` or `oidc`.
    pub(crate) method: &'static str,
    /// Passwordless: whether a code was asked for (show the code form).
    pub(crate) code_stage: bool,
    pub(crate) notice: Option<String>,
    pub(crate) error: Option<String>,
    /// "a 4-digit code is on its way", in the page's language.
    pub(crate) code_on_its_way: String,
    /// "At most 5 codes an hour", in the page's language.
    pub(crate) codes_per_hour: String,
}

/// The privacy policy page.
#[derive(Template)]
#[template(path = "privacy.html")]
pub(crate) struct PrivacyPage {
    pub(crate) layout: Layout,
    /// The operator's HTML, or the escaped rendering of their text; `None`
    /// for pod's own text.
    pub(crate) custom: Option<String>,
}

/// An error page.
#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    pub(crate) layout: Layout,
    pub(crate) message: String,
}

/// Renders a template as an HTML response.
pub(crate) fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            error!(error = %e, "a template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "pod could not show this page",
            )
                .into_response()
        }
    }
}

pub(crate) fn error_page(
    state: &AppState,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    render(
        status,
        &ErrorPage {
            layout: Layout::new(state, title, ""),
            message: message.to_owned(),
        },
    )
}

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Plain text or simple Markdown as HTML: `#`/`##`/`###` headings, `-` or
/// `*` list items, blank-line separated paragraphs. Everything is escaped.
pub(crate) fn text_to_html(text: &str) -> String {
    let mut html = String::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut in_list = false;
    let flush = |html: &mut String, paragraph: &mut Vec<&str>| {
        if !paragraph.is_empty() {
            html.push_str(&format!("<p>{}</p>\n", escape(&paragraph.join(" "))));
            paragraph.clear();
        }
    };
    for line in text.lines() {
        let line = line.trim();
        let item = line.strip_prefix("- ").or_else(|| line.strip_prefix("* "));
        if item.is_none() && in_list {
            html.push_str("</ul>\n");
            in_list = false;
        }
        if line.is_empty() {
            flush(&mut html, &mut paragraph);
        } else if let Some(item) = item {
            flush(&mut html, &mut paragraph);
            if !in_list {
                html.push_str("<ul>\n");
                in_list = true;
            }
            html.push_str(&format!("<li>{}</li>\n", escape(item.trim())));
        } else if let Some((level, heading)) = line
            .strip_prefix("### ")
            .map(|h| (3, h))
            .or_else(|| line.strip_prefix("## ").map(|h| (3, h)))
            .or_else(|| line.strip_prefix("# ").map(|h| (2, h)))
        {
            flush(&mut html, &mut paragraph);
            html.push_str(&format!(
                "<h{level}>{}</h{level}>\n",
                escape(heading.trim())
            ));
        } else {
            paragraph.push(line);
        }
    }
    flush(&mut html, &mut paragraph);
    if in_list {
        html.push_str("</ul>\n");
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_policies_are_escaped_and_structured() {
        let html =
            text_to_html("# Privacy\n\nWe keep <b>little</b>.\nReally.\n\n- orders\n- codes\nEnd");
        assert_eq!(
            html,
            "<h2>Privacy</h2>\n<p>We keep &lt;b&gt;little&lt;/b&gt;. Really.</p>\n<ul>\n<li>orders</li>\n<li>codes</li>\n</ul>\n<p>End</p>\n"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration_label(0), "0 s");
        assert_eq!(duration_label(4_001), "5 s");
        assert_eq!(duration_label(300_000), "5 min 00 s");
    }
}
