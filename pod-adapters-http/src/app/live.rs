//! `GET /app/events`: the signed-in customer's orders as Server-Sent Events.
//!
//! The stream opens with the current orders, then sends them again each
//! time one of the customer's orders is placed, confirmed or cancelled (as
//! [`LiveEvents`](crate::LiveEvents) hears it: in this process, or from
//! other servers through the database), when it fell behind and may have
//! missed one, or when the hub asks for a resync because events may have
//! been lost. Each `orders` event carries the orders part of the page as
//! HTML, rendered by the same template as the page. The stream ends with a
//! `signed-out` event when the session ends; `EventSource` reconnects by
//! itself after network trouble and gets a fresh snapshot.

use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::http::{HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use futures::stream::{self, Stream};
use pod_domain::CustomerId;
use pod_ports::SessionId;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tracing::debug;

use super::pages::orders_view;
use super::views::{Layout, OrdersFragment};
use super::{AppError, AppState};
use crate::events::Live;

/// How long the browser waits before reconnecting.
const RETRY: Duration = Duration::from_secs(2);

struct Watch {
    state: AppState,
    id: SessionId,
    customer: CustomerId,
    events: Receiver<Live>,
    first: bool,
    done: bool,
}

/// `GET /app/events`.
pub(crate) async fn events(state: AppState, jar: CookieJar) -> Response {
    let (id, _, customer) = match state.signed_in(&jar).await {
        Ok(signed_in) => signed_in,
        Err(AppError::SignInFirst) => {
            return (StatusCode::UNAUTHORIZED, "sign in first").into_response();
        }
        Err(error) => return state.error_page(error),
    };
    // Subscribe before the first snapshot is read, so nothing falls between.
    let events = state.web.events.subscribe();
    let keep_alive = state.web.config.keep_alive;
    let watch = Watch {
        state,
        id,
        customer,
        events,
        first: true,
        done: false,
    };
    let mut response = Sse::new(stream_of(watch))
        .keep_alive(KeepAlive::new().interval(keep_alive))
        .into_response();
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

fn stream_of(watch: Watch) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(watch, |mut watch| async move {
        if watch.done {
            return None;
        }
        if !watch.first {
            wait_for_change(&mut watch).await;
            if watch.done {
                return None;
            }
        }
        watch.first = false;
        let event = match snapshot(&watch).await {
            Some(html) => Event::default().event("orders").retry(RETRY).data(html),
            None => {
                watch.done = true;
                Event::default().event("signed-out").data("signed out")
            }
        };
        Some((Ok(event), watch))
    })
}

/// Waits until one of the customer's orders changed, the hub dropped events
/// or asked for a resync, or the session ran out.
async fn wait_for_change(watch: &mut Watch) {
    let now = watch.state.now();
    let left = match watch.state.web.sessions.session(&watch.id, now).await {
        Ok(Some(session)) => session.expires_at.since(now),
        _ => return,
    };
    let session_ends = tokio::time::sleep(left.max(Duration::from_millis(10)));
    tokio::pin!(session_ends);
    loop {
        tokio::select! {
            received = watch.events.recv() => match received {
                Ok(Live::Event(event)) if *event.order().customer() == watch.customer => return,
                Ok(Live::Event(_)) => continue,
                Ok(Live::Resync) => {
                    debug!("events may have been lost; sending a fresh snapshot");
                    return;
                }
                Err(RecvError::Lagged(missed)) => {
                    debug!(missed, "event stream fell behind; sending a fresh snapshot");
                    return;
                }
                Ok(Live::Shutdown) | Err(RecvError::Closed) => {
                    watch.done = true;
                    return;
                }
            },
            () = &mut session_ends => return,
        }
    }
}

/// The orders part of the page now; `None` once the session is gone.
async fn snapshot(watch: &Watch) -> Option<String> {
    let state = &watch.state;
    let session = state
        .web
        .sessions
        .session(&watch.id, state.now())
        .await
        .ok()
        .flatten()?;
    session.customer.as_ref()?;
    let orders = orders_view(state, &watch.customer).await.ok()?;
    OrdersFragment {
        layout: Layout::new(state, state.texts.orders_title, "orders")
            .signed_in(&session.csrf_token),
        orders,
    }
    .render()
    .ok()
}
