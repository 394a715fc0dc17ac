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
//!
//! For fault tests, [`FakeAuth0::inject_fault`] makes routes answer a
//! given status, body or delay until [`FakeAuth0::heal`], and
//! [`FakeAuth0::start_on`] brings the tenant up on an address pod was
//! pointed at while nothing listened there.
//!
//! This file holds [`FakeAuth0`], the tenant's constants, [`FakeAlgorithm`]
//! and the clock and randomness the other files share; the rest is in
//! - `keys.rs`: the signing keys, [`RsaTestKey`] and [`sign_hs256`];
//! - `users.rs`: [`FakeUser`] and the user table with its rules;
//! - `state.rs`: the server's state: users, sent and pending codes
//!   ([`SentCode`]), Management API tokens, keys;
//! - `endpoints.rs`: the HTTP handler for each Auth0 route.

mod endpoints;
mod keys;
mod state;
mod users;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::MockServer;

use crate::config::{Auth0Config, TokenAlgorithm};
use state::{Shared, State};

pub use keys::{RsaTestKey, sign_hs256};
pub use state::SentCode;
pub use users::FakeUser;

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

/// How the fake signs a kind of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeAlgorithm {
    /// HS256 (access tokens: [`API_SIGNING_SECRET`]; id tokens: [`CLIENT_SECRET`]).
    Hs256,
    /// RS256 with the fake's key from its JWKS.
    Rs256,
}

/// The fake tenant. Dropping it stops the server.
pub struct FakeAuth0 {
    server: MockServer,
    state: Shared,
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
        Self::serve(MockServer::start().await).await
    }

    /// Starts the fake on `listener` (a port pod was already pointed at:
    /// the tenant coming back after an outage), with no users.
    pub async fn start_on(listener: std::net::TcpListener) -> Self {
        Self::serve(MockServer::builder().listener(listener).start().await).await
    }

    async fn serve(server: MockServer) -> Self {
        let state = Arc::new(Mutex::new(State::new()));
        endpoints::mount(&server, state.clone()).await;
        FakeAuth0 { server, state }
    }

    /// From now on, requests with `method` (any, when `None`) to a path
    /// starting with `path_prefix` get `response` (a status, a body, a
    /// `set_delay` that outlasts pod's budget) instead of the real answer,
    /// until [`FakeAuth0::heal`]. The first fault that matches wins.
    ///
    /// (Not a scoped wiremock mock of higher priority: wiremock 0.6 sorts
    /// its mocks by priority when it serves a request, after which dropping
    /// a scoped mock's guard can switch off another mock.)
    pub fn inject_fault(
        &self,
        method: Option<&str>,
        path_prefix: &str,
        response: wiremock::ResponseTemplate,
    ) {
        self.lock().faults.push(state::Fault {
            method: method.map(str::to_ascii_uppercase),
            path_prefix: path_prefix.to_owned(),
            response,
        });
    }

    /// Removes every injected fault: the tenant answers normally again.
    pub fn heal(&self) {
        self.lock().faults.clear();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        state::lock(&self.state)
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
        self.lock().users.insert(user);
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
        self.lock().expire_codes();
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
