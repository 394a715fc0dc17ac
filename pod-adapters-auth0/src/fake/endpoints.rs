//! The fake's HTTP endpoints: one wiremock responder that routes each Auth0
//! route pod uses to its handler (`/.well-known/jwks.json`, `/oauth/token`,
//! `/passwordless/start`, and the Management API under `/api/v2/`), and
//! answers with Auth0's statuses and error bodies.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::keys::{RsaTestKey, sign_hs256};
use super::state::{CodeRejection, Shared, State, lock};
use super::users::{FakeUser, LinkError};
use super::{CLIENT_ID, CLIENT_SECRET, DOMAIN, FakeAlgorithm, random_bytes, unix_now};
use crate::codes::OTP_GRANT;

/// Answers every request to `server` from `state`.
pub(super) async fn mount(server: &MockServer, state: Shared) {
    Mock::given(any())
        .respond_with(Router { state })
        .mount(server)
        .await;
}

struct Router {
    state: Shared,
}

fn error(status: u16, error: &str, description: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({ "error": error, "error_description": description }))
}

fn management_error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "statusCode": status, "error": "Error", "message": message,
    }))
}

/// The body as key/value pairs (form or JSON).
fn params(request: &Request) -> HashMap<String, String> {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&request.body) {
        return map
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
            .collect();
    }
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

impl Respond for Router {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = lock(&self.state);
        let path = request.url.path().to_owned();
        let method = request.method.as_str().to_owned();
        let fault = state.faults.iter().find(|f| {
            f.method.as_deref().is_none_or(|m| m == method) && path.starts_with(&f.path_prefix)
        });
        if let Some(fault) = fault {
            return fault.response.clone();
        }
        match (method.as_str(), path.as_str()) {
            ("GET", "/.well-known/jwks.json") => {
                let keys: Vec<Value> = state.keys.iter().map(RsaTestKey::jwk).collect();
                ResponseTemplate::new(200).set_body_json(json!({ "keys": keys }))
            }
            ("POST", "/oauth/token") => oauth_token(&mut state, &params(request)),
            ("POST", "/passwordless/start") => passwordless_start(&mut state, &params(request)),
            _ if path.starts_with("/api/v2/") => {
                let authorized = request
                    .headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .is_some_and(|t| state.management_tokens.iter().any(|m| m == t));
                if !authorized {
                    return management_error(401, "Invalid token");
                }
                management(&mut state, &method, &path, request)
            }
            _ => ResponseTemplate::new(404),
        }
    }
}

fn oauth_token(state: &mut State, p: &HashMap<String, String>) -> ResponseTemplate {
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
    if get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
        return error(401, "access_denied", "Unauthorized");
    }
    match get("grant_type") {
        "client_credentials" => {
            if get("audience") != format!("https://{DOMAIN}/api/v2/") {
                return error(403, "access_denied", "Service not enabled within domain");
            }
            let token = format!("mgmt-{}", URL_SAFE_NO_PAD.encode(random_bytes::<16>()));
            state.management_tokens.push(token.clone());
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": token, "expires_in": 86400, "token_type": "Bearer",
            }))
        }
        OTP_GRANT => otp_grant(state, get("realm"), get("username"), get("otp")),
        _ => error(
            403,
            "unauthorized_client",
            "Grant type not allowed for the client.",
        ),
    }
}

fn wrong(realm: &str) -> ResponseTemplate {
    let what = if realm == "sms" {
        "phone number"
    } else {
        "email"
    };
    error(
        403,
        "invalid_grant",
        &format!("Wrong {what} or verification code."),
    )
}

fn otp_grant(state: &mut State, realm: &str, username: &str, otp: &str) -> ResponseTemplate {
    if realm != "sms" && realm != "email" {
        return error(400, "invalid_request", "Unknown realm");
    }
    match state.check_code(realm, username, otp) {
        Ok(()) => {}
        Err(CodeRejection::Wrong) => return wrong(realm),
        Err(CodeRejection::TooManyAttempts) => {
            return error(
                403,
                "invalid_grant",
                "You've reached the maximum number of attempts. Please try to login again.",
            );
        }
        Err(CodeRejection::Expired) => {
            return error(
                403,
                "invalid_grant",
                "The verification code has expired. Please try to login again.",
            );
        }
    }
    let sub = state.users.sign_in(realm, username);
    let now = unix_now();
    let claims = json!({
        "iss": format!("https://{DOMAIN}/"), "aud": CLIENT_ID, "sub": sub,
        "iat": now, "exp": now + 36_000,
    });
    let id_token = match state.id_token_algorithm {
        FakeAlgorithm::Hs256 => sign_hs256(CLIENT_SECRET.as_bytes(), &claims),
        FakeAlgorithm::Rs256 => match state.keys.last() {
            Some(key) => key.sign(&claims),
            None => return ResponseTemplate::new(500),
        },
    };
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": format!("at-{}", URL_SAFE_NO_PAD.encode(random_bytes::<16>())),
        "id_token": id_token, "token_type": "Bearer", "expires_in": 86400, "scope": "openid",
    }))
}

fn passwordless_start(state: &mut State, p: &HashMap<String, String>) -> ResponseTemplate {
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or_default();
    if get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
        return error(
            401,
            "unauthorized_client",
            "Client authentication is required",
        );
    }
    let connection = get("connection");
    let address = match connection {
        "sms" => get("phone_number"),
        "email" => get("email"),
        _ => return error(400, "bad.connection", "Connection does not exist"),
    };
    if address.is_empty() {
        return error(400, "bad.request", "Missing address");
    }
    if get("send") != "code" {
        return error(400, "bad.send", "pod only sends codes");
    }
    state.send_code(connection, address);
    ResponseTemplate::new(200).set_body_json(json!({ "_id": "fake", connection: address }))
}

fn management(state: &mut State, method: &str, path: &str, request: &Request) -> ResponseTemplate {
    let rest = path.trim_start_matches("/api/v2/");
    let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
    let segments: Vec<&str> = rest.split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["users", id]) => match state.users.get(&percent_decode(id)) {
            Some(user) => ResponseTemplate::new(200).set_body_json(user.to_json()),
            None => management_error(404, "The user does not exist."),
        },
        ("GET", ["users-by-email"]) => {
            let email = query.get("email").cloned().unwrap_or_default();
            let users: Vec<Value> = state
                .users
                .by_email(&email)
                .map(FakeUser::to_json)
                .collect();
            ResponseTemplate::new(200).set_body_json(users)
        }
        ("GET", ["users"]) => {
            let q = query.get("q").cloned().unwrap_or_default();
            let phone = q
                .split("phone_number:\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_default()
                .to_owned();
            let users: Vec<Value> = state
                .users
                .passwordless("sms", &phone)
                .map(FakeUser::to_json)
                .collect();
            ResponseTemplate::new(200).set_body_json(users)
        }
        ("POST", ["users"]) => {
            let p = params(request);
            let connection = p.get("connection").cloned().unwrap_or_default();
            let address = match connection.as_str() {
                "sms" => p.get("phone_number"),
                "email" => p.get("email"),
                _ => return management_error(400, "Connection does not exist"),
            };
            let Some(address) = address else {
                return management_error(400, "Missing address");
            };
            if state
                .users
                .passwordless(&connection, address)
                .next()
                .is_some()
            {
                return management_error(409, "The user already exists.");
            }
            let user = state.users.create_passwordless(&connection, address);
            ResponseTemplate::new(201).set_body_json(user.to_json())
        }
        ("POST", ["users", id, "identities"]) => {
            let p = params(request);
            let provider = p.get("provider").cloned().unwrap_or_default();
            let secondary_id = p.get("user_id").cloned().unwrap_or_default();
            match state
                .users
                .link(&percent_decode(id), provider, secondary_id)
            {
                Ok(user) => {
                    ResponseTemplate::new(201).set_body_json(user.to_json()["identities"].clone())
                }
                Err(LinkError::NoSecondary) => {
                    management_error(400, "The secondary user does not exist.")
                }
                Err(LinkError::AlreadyLinked) => {
                    management_error(409, "The identity is already linked.")
                }
                Err(LinkError::NoPrimary) => management_error(404, "The user does not exist."),
            }
        }
        _ => management_error(404, "Not found"),
    }
}
