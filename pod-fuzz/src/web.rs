//! The web app's forms (`/app`, passwordless sign-in), through the whole
//! router.

use axum::body::Body;
use axum::http::{Request, header};
use pod_alexa::verify::{RequestVerifier, VerifierConfig, VerifyMode};

use crate::harness::{CODE, Env, Reply, runtime};

/// The most form posts one input makes.
const MAX_STEPS: usize = 5;

/// Input: up to five form posts, separated by a line `--`. Each is a path
/// (only `/app` and paths under it are posted; others are skipped) on its first
/// line and the `application/x-www-form-urlencoded` body after it, in which
/// `$CSRF` becomes the CSRF token of the last page seen. The session cookie
/// is kept from answer to answer, and a redirect within `/app` is followed
/// with a `GET` (which shows the next page and its token). `demo` has one
/// confirmed order, so that `/app/orders/clear` has something to clear.
///
/// Invariants: no panic, no 5xx, the security headers on every answer, and
/// a form refused as forged (403) changes nothing.
pub fn web_forms(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    runtime().block_on(async {
        let verifier =
            RequestVerifier::new(VerifierConfig::new(VerifyMode::Off)).expect("a verifier");
        let env = Env::new(verifier, true).await;
        confirmed_order(&env).await;
        let mut browser = Browser::default();
        browser.get(&env, "/app/sign-in").await;
        for step in crate::steps(&text, MAX_STEPS) {
            let (path, form) = step.split_once('\n').unwrap_or((step, ""));
            let path = path.trim();
            if !in_web_app(path) {
                continue;
            }
            let form = form.replace("$CSRF", &browser.csrf);
            let mut request = Request::post(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            if let Some(cookie) = &browser.cookie {
                request = request.header(header::COOKIE, format!("pod_session={cookie}"));
            }
            let Ok(request) = request.body(Body::from(form)) else {
                continue;
            };
            let before = env.snapshot().await;
            let reply = browser.send(&env, request).await;
            if reply.status.as_u16() == 403 {
                assert_eq!(
                    env.snapshot().await,
                    before,
                    "a forged form changed the store"
                );
            }
            if reply.status.is_redirection()
                && let Some(location) = location(&reply)
                && in_web_app(&location)
                && !location.starts_with("/app/events")
            {
                browser.get(&env, &location).await;
            }
        }
    });
}

/// What a browser keeps between pages.
#[derive(Default)]
struct Browser {
    cookie: Option<String>,
    csrf: String,
}

impl Browser {
    async fn get(&mut self, env: &Env, path: &str) {
        let mut request = Request::get(path);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, format!("pod_session={cookie}"));
        }
        let request = request
            .body(Body::empty())
            .expect("a redirect is a valid path");
        self.send(env, request).await;
    }

    async fn send(&mut self, env: &Env, request: Request<Body>) -> Reply {
        let path = request.uri().path().to_owned();
        let reply = env.send(request).await;
        assert!(
            !reply.status.is_server_error(),
            "{path} answered {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        for name in [
            header::CONTENT_SECURITY_POLICY,
            header::X_FRAME_OPTIONS,
            header::X_CONTENT_TYPE_OPTIONS,
        ] {
            assert!(reply.headers.contains_key(&name), "{path}: no {name}");
        }
        if let Some(cookie) = reply
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("pod_session="))
        {
            let value = cookie.split(';').next().unwrap_or("");
            self.cookie = (!value.is_empty()).then(|| value.to_owned());
        }
        let body = String::from_utf8_lossy(&reply.body);
        if let Some(at) = body.find("name=\"csrf\" value=\"") {
            let rest = &body[at + 19..];
            self.csrf = rest[..rest.find('"').unwrap_or(0)].to_owned();
        }
        reply
    }
}

/// `/app` and what is under it (`/apple` is not the web app's).
fn in_web_app(path: &str) -> bool {
    path == "/app" || path.starts_with("/app/") || path.starts_with("/app?")
}

fn location(reply: &Reply) -> Option<String> {
    let location = reply.headers.get(header::LOCATION)?.to_str().ok()?;
    Some(location.to_owned())
}

/// Places and confirms one order of `demo` through `/api`.
async fn confirmed_order(env: &Env) {
    let token = env.token(&env.demo);
    for (path, body) in [
        ("/api/orders", r#"{"size":"small"}"#.to_owned()),
        ("/api/orders/confirm", format!(r#"{{"code":"{CODE}"}}"#)),
    ] {
        let request = Request::post(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .expect("a valid request");
        let reply = env.send(request).await;
        assert!(reply.status.is_success(), "{path}: {}", reply.status);
    }
}
