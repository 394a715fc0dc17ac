//! A fake Auth0 tenant on 127.0.0.1 for black-box tests (feature `fake`).
//!
//! [`FakeAuth0`] answers the endpoints pod uses like Auth0 does:
//! `POST /oauth/token` (client credentials; passwordless OTP with real
//! signed id tokens), `POST /passwordless/start` (records the code it
//! "sent"; read it with [`FakeAuth0::last_code`]), `GET /api/v2/users/{id}`,
//! `POST /api/v2/users`, `POST /api/v2/users/{id}/identities`,
//! `GET /api/v2/users-by-email`, `GET /api/v2/users?q=`, and
//! `GET /.well-known/jwks.json`. Codes are 4 digits, live 180 s and take 3
//! wrong attempts, as in the original sample's setup.
//!
//! [`FakeAuth0::mint_access_token`] makes the access token Alexa would send.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::codes::OTP_GRANT;
use crate::config::{Auth0Config, TokenAlgorithm};

/// The fake tenant's domain (issuer `https://fake-tenant.auth0.test/`).
pub const DOMAIN: &str = "fake-tenant.auth0.test";
/// The API id access tokens are issued for.
pub const API_AUDIENCE: &str = "https://pod.example/api";
/// The application's client id.
pub const CLIENT_ID: &str = "pod-fake-client";
/// The application's client secret (also the HS256 id-token key).
pub const CLIENT_SECRET: &str = "fake-client-secret-0123456789abcdef";
/// The API signing secret for HS256 access tokens.
pub const API_SIGNING_SECRET: &str = "fake-api-signing-secret-0123456789";

/// How long a fake code lives.
const CODE_LIFETIME: Duration = Duration::from_secs(180);
/// Wrong attempts a fake code takes.
const MAX_ATTEMPTS: u32 = 3;

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The fake has no way to go on without randomness.
    aws_lc_rs::rand::fill(&mut buf).expect("system randomness");
    buf
}

/// An RSA signing key with a `kid`, for tests that need RS256 tokens.
#[derive(Clone)]
pub struct RsaTestKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
    public_der: Vec<u8>,
}

impl std::fmt::Debug for RsaTestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaTestKey")
            .field("kid", &self.kid)
            .finish()
    }
}

impl RsaTestKey {
    /// A fresh 2048-bit key named `kid`.
    pub fn generate(kid: &str) -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let pkcs8 = pair.as_der().expect("PKCS#8 encoding");
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        );
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("PKCS#8 PEM");
        let public = pair.public_key();
        let parts = PublicKeyComponents::<Vec<u8>>::from(public);
        let jwk = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(&parts.n),
            "e": URL_SAFE_NO_PAD.encode(&parts.e),
        });
        RsaTestKey {
            kid: kid.to_owned(),
            encoding,
            jwk,
            public_der: public.as_ref().to_vec(),
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (for a `jwks.json`).
    pub fn jwk(&self) -> Value {
        self.jwk.clone()
    }

    /// The public key, DER (PKCS#1), as an attacker could download it.
    pub fn public_der(&self) -> &[u8] {
        &self.public_der
    }

    /// `claims` signed with RS256 under this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &self.encoding).expect("RS256 signing")
    }
}

/// `claims` signed with HS256 and `secret`.
pub fn sign_hs256(secret: &[u8], claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 signing")
}

/// How the fake signs a kind of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeAlgorithm {
    /// HS256 (access tokens: [`API_SIGNING_SECRET`]; id tokens: [`CLIENT_SECRET`]).
    Hs256,
    /// RS256 with the fake's key from its JWKS.
    Rs256,
}

/// A user of the fake tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    /// `auth0|…`, `sms|…`, `email|…`.
    pub id: String,
    /// The email address.
    pub email: Option<String>,
    /// The top-level `phone_number`.
    pub phone_number: Option<String>,
    /// `user_metadata.phone_number`, as the original sample kept it.
    pub metadata_phone: Option<String>,
    /// Linked identities as `(provider, user_id)`, besides the user's own.
    pub linked: Vec<(String, String)>,
}

impl FakeUser {
    /// A database user `id` with nothing else.
    pub fn new(id: &str) -> Self {
        FakeUser {
            id: id.to_owned(),
            email: None,
            phone_number: None,
            metadata_phone: None,
            linked: Vec::new(),
        }
    }

    /// With an email address.
    pub fn with_email(mut self, email: &str) -> Self {
        self.email = Some(email.to_owned());
        self
    }

    /// With a top-level phone number.
    pub fn with_phone(mut self, phone: &str) -> Self {
        self.phone_number = Some(phone.to_owned());
        self
    }

    /// With `user_metadata.phone_number`.
    pub fn with_metadata_phone(mut self, phone: &str) -> Self {
        self.metadata_phone = Some(phone.to_owned());
        self
    }

    fn provider_and_id(&self) -> (&str, &str) {
        self.id
            .split_once('|')
            .unwrap_or(("auth0", self.id.as_str()))
    }

    fn to_json(&self) -> Value {
        let (provider, own) = self.provider_and_id();
        let mut identities = vec![json!({
            "provider": provider, "user_id": own, "isSocial": false,
            "connection": if provider == "auth0" { "Username-Password-Authentication" } else { provider },
        })];
        for (p, id) in &self.linked {
            identities
                .push(json!({ "provider": p, "user_id": id, "connection": p, "isSocial": false }));
        }
        let mut user = json!({ "user_id": self.id, "identities": identities });
        if let Some(email) = &self.email {
            user["email"] = json!(email);
        }
        if let Some(phone) = &self.phone_number {
            user["phone_number"] = json!(phone);
        }
        if let Some(phone) = &self.metadata_phone {
            user["user_metadata"] = json!({ "phone_number": phone });
        }
        user
    }
}

/// A code the fake "sent".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentCode {
    /// `sms` or `email`.
    pub connection: String,
    /// The phone number or email address.
    pub address: String,
    /// The digits.
    pub code: String,
}

struct PendingCode {
    code: String,
    attempts: u32,
    issued: Instant,
}

struct State {
    users: HashMap<String, FakeUser>,
    /// Secondary id (`sms|x`) → primary id.
    linked_to: HashMap<String, String>,
    codes: HashMap<(String, String), PendingCode>,
    sent: Vec<SentCode>,
    management_tokens: Vec<String>,
    keys: Vec<RsaTestKey>,
    id_token_algorithm: FakeAlgorithm,
    next_id: u64,
}

/// The fake tenant. Dropping it stops the server.
pub struct FakeAuth0 {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for FakeAuth0 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAuth0")
            .field("uri", &self.server.uri())
            .finish()
    }
}

impl FakeAuth0 {
    /// Starts the fake on 127.0.0.1 on a free port, with no users.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            users: HashMap::new(),
            linked_to: HashMap::new(),
            codes: HashMap::new(),
            sent: Vec::new(),
            management_tokens: Vec::new(),
            keys: vec![RsaTestKey::generate("fake-key-1")],
            id_token_algorithm: FakeAlgorithm::Rs256,
            next_id: 1,
        }));
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(Router {
                state: state.clone(),
            })
            .mount(&server)
            .await;
        FakeAuth0 { server, state }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The base URL (`http://127.0.0.1:port`).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// A configuration for pod pointing at the fake: access tokens signed
    /// with `access`, id tokens with `id_tokens`.
    pub fn config(&self, access: FakeAlgorithm, id_tokens: FakeAlgorithm) -> Auth0Config {
        self.lock().id_token_algorithm = id_tokens;
        let access = match access {
            FakeAlgorithm::Hs256 => TokenAlgorithm::Hs256 {
                secret: SecretString::from(API_SIGNING_SECRET),
            },
            FakeAlgorithm::Rs256 => TokenAlgorithm::Rs256,
        };
        let id = match id_tokens {
            FakeAlgorithm::Hs256 => TokenAlgorithm::Hs256 {
                secret: SecretString::from(CLIENT_SECRET),
            },
            FakeAlgorithm::Rs256 => TokenAlgorithm::Rs256,
        };
        Auth0Config::new(
            DOMAIN,
            API_AUDIENCE,
            CLIENT_ID,
            SecretString::from(CLIENT_SECRET),
            access,
        )
        .and_then(|c| c.with_base_url(&self.uri()))
        .expect("the fake's configuration is valid")
        .with_id_token_algorithm(id)
    }

    /// Adds (or replaces) a user.
    pub fn add_user(&self, user: FakeUser) {
        self.lock().users.insert(user.id.clone(), user);
    }

    /// A user as the fake has it now (to see linked identities).
    pub fn user(&self, id: &str) -> Option<FakeUser> {
        self.lock().users.get(id).cloned()
    }

    /// Every code sent so far.
    pub fn sent_codes(&self) -> Vec<SentCode> {
        self.lock().sent.clone()
    }

    /// The last code sent to `address`.
    pub fn last_code(&self, address: &str) -> Option<String> {
        self.lock()
            .sent
            .iter()
            .rev()
            .find(|s| s.address == address)
            .map(|s| s.code.clone())
    }

    /// Makes every pending code expired.
    pub fn expire_codes(&self) {
        for code in self.lock().codes.values_mut() {
            code.issued = Instant::now()
                .checked_sub(CODE_LIFETIME + Duration::from_secs(1))
                .unwrap_or(code.issued);
        }
    }

    /// Adds a new signing key to the JWKS and signs with it from now on; its kid.
    pub fn rotate_key(&self) -> String {
        let mut state = self.lock();
        let kid = format!("fake-key-{}", state.keys.len() + 1);
        state.keys.push(RsaTestKey::generate(&kid));
        kid
    }

    /// The current RSA signing key.
    pub fn rsa_key(&self) -> RsaTestKey {
        self.lock()
            .keys
            .last()
            .cloned()
            .expect("the fake has a key")
    }

    /// An access token for `sub`, valid for an hour, as account linking
    /// would give Alexa.
    pub fn mint_access_token(&self, sub: &str, algorithm: FakeAlgorithm) -> String {
        let now = unix_now();
        self.mint(
            algorithm,
            &json!({
                "iss": format!("https://{DOMAIN}/"),
                "aud": [API_AUDIENCE, format!("https://{DOMAIN}/userinfo")],
                "sub": sub, "iat": now, "exp": now + 3600,
                "scope": "openid offline_access",
            }),
        )
    }

    /// Any `claims` signed as an access token would be.
    pub fn mint(&self, algorithm: FakeAlgorithm, claims: &Value) -> String {
        match algorithm {
            FakeAlgorithm::Hs256 => sign_hs256(API_SIGNING_SECRET.as_bytes(), claims),
            FakeAlgorithm::Rs256 => self.rsa_key().sign(claims),
        }
    }

    /// How many requests reached the fake.
    pub async fn request_count(&self) -> usize {
        self.server
            .received_requests()
            .await
            .map(|r| r.len())
            .unwrap_or(0)
    }
}

struct Router {
    state: Arc<Mutex<State>>,
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
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let path = request.url.path().to_owned();
        let method = request.method.as_str().to_owned();
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
    let key = (realm.to_owned(), username.to_owned());
    let Some(pending) = state.codes.get_mut(&key) else {
        return wrong(realm);
    };
    if pending.attempts >= MAX_ATTEMPTS {
        return error(
            403,
            "invalid_grant",
            "You've reached the maximum number of attempts. Please try to login again.",
        );
    }
    if pending.issued.elapsed() > CODE_LIFETIME {
        state.codes.remove(&key);
        return error(
            403,
            "invalid_grant",
            "The verification code has expired. Please try to login again.",
        );
    }
    if pending.code != otp {
        pending.attempts += 1;
        return wrong(realm);
    }
    state.codes.remove(&key);
    // The passwordless user signing in, or the primary it is linked to.
    let address_matches = |u: &FakeUser| match realm {
        "sms" => u.phone_number.as_deref() == Some(username),
        _ => u.email.as_deref() == Some(username),
    };
    let prefix = format!("{realm}|");
    let secondary = state
        .users
        .values()
        .find(|u| u.id.starts_with(&prefix) && address_matches(u))
        .map(|u| u.id.clone());
    let secondary = match secondary {
        Some(id) => id,
        None => {
            let id = format!("{realm}|{:016x}", state.next_id);
            state.next_id += 1;
            let mut user = FakeUser::new(&id);
            if realm == "sms" {
                user.phone_number = Some(username.to_owned());
            } else {
                user.email = Some(username.to_owned());
            }
            state.users.insert(id.clone(), user);
            id
        }
    };
    let sub = state
        .linked_to
        .get(&secondary)
        .cloned()
        .unwrap_or(secondary);
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
    let n = u16::from_be_bytes(random_bytes::<2>()) % 10_000;
    let code = format!("{n:04}");
    state.codes.insert(
        (connection.to_owned(), address.to_owned()),
        PendingCode {
            code: code.clone(),
            attempts: 0,
            issued: Instant::now(),
        },
    );
    state.sent.push(SentCode {
        connection: connection.to_owned(),
        address: address.to_owned(),
        code,
    });
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
                .values()
                .filter(|u| u.email.as_deref() == Some(email.as_str()))
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
                .values()
                .filter(|u| {
                    u.id.starts_with("sms|") && u.phone_number.as_deref() == Some(phone.as_str())
                })
                .map(FakeUser::to_json)
                .collect();
            ResponseTemplate::new(200).set_body_json(users)
        }
        ("POST", ["users"]) => {
            let p = params(request);
            let connection = p.get("connection").cloned().unwrap_or_default();
            let (field, address) = match connection.as_str() {
                "sms" => ("phone", p.get("phone_number").cloned()),
                "email" => ("email", p.get("email").cloned()),
                _ => return management_error(400, "Connection does not exist"),
            };
            let Some(address) = address else {
                return management_error(400, "Missing address");
            };
            let prefix = format!("{connection}|");
            let exists = state.users.values().any(|u| {
                u.id.starts_with(&prefix)
                    && match field {
                        "phone" => u.phone_number.as_deref() == Some(address.as_str()),
                        _ => u.email.as_deref() == Some(address.as_str()),
                    }
            });
            if exists {
                return management_error(409, "The user already exists.");
            }
            let id = format!("{connection}|{:016x}", state.next_id);
            state.next_id += 1;
            let mut user = FakeUser::new(&id);
            if field == "phone" {
                user.phone_number = Some(address);
            } else {
                user.email = Some(address);
            }
            let body = user.to_json();
            state.users.insert(id, user);
            ResponseTemplate::new(201).set_body_json(body)
        }
        ("POST", ["users", id, "identities"]) => {
            let primary = percent_decode(id);
            let p = params(request);
            let provider = p.get("provider").cloned().unwrap_or_default();
            let secondary_id = p.get("user_id").cloned().unwrap_or_default();
            let secondary = format!("{provider}|{secondary_id}");
            if !state.users.contains_key(&secondary) {
                return management_error(400, "The secondary user does not exist.");
            }
            if state.linked_to.contains_key(&secondary) {
                return management_error(409, "The identity is already linked.");
            }
            let Some(user) = state.users.get_mut(&primary) else {
                return management_error(404, "The user does not exist.");
            };
            user.linked.push((provider, secondary_id));
            let body = user.to_json()["identities"].clone();
            state.linked_to.insert(secondary, primary);
            ResponseTemplate::new(201).set_body_json(body)
        }
        _ => management_error(404, "Not found"),
    }
}
