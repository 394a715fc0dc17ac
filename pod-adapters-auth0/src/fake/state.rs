//! The fake server's state, shared by [`FakeAuth0`](super::FakeAuth0) and
//! the endpoints: the users, the codes it "sent" ([`SentCode`]) and the
//! pending ones with their attempt counts and lifetime, the Management API
//! tokens it issued, the signing keys and the id tokens' algorithm.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::FakeAlgorithm;
use super::keys::RsaTestKey;
use super::random_bytes;
use super::users::Users;

/// How long a fake code lives.
const CODE_LIFETIME: Duration = Duration::from_secs(180);
/// Wrong attempts a fake code takes.
const MAX_ATTEMPTS: u32 = 3;

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

#[derive(Debug)]
struct PendingCode {
    code: String,
    attempts: u32,
    issued: Instant,
}

/// Why [`State::check_code`] refused a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CodeRejection {
    /// No code is pending for the address, or it is not this one.
    Wrong,
    /// The code took its [`MAX_ATTEMPTS`] wrong attempts.
    TooManyAttempts,
    /// The code outlived its [`CODE_LIFETIME`].
    Expired,
}

/// The state, shared between the fake's handle and its endpoints.
pub(super) type Shared = Arc<Mutex<State>>;

/// Locks `shared`, even if a panicking test poisoned it.
pub(super) fn lock(shared: &Mutex<State>) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) users: Users,
    /// Pending codes by `(connection, address)`.
    codes: HashMap<(String, String), PendingCode>,
    pub(super) sent: Vec<SentCode>,
    pub(super) management_tokens: Vec<String>,
    /// The RSA signing keys, in the JWKS; the last one signs.
    pub(super) keys: Vec<RsaTestKey>,
    pub(super) id_token_algorithm: FakeAlgorithm,
    /// Faults played instead of the real answers, first match wins.
    pub(super) faults: Vec<Fault>,
}

/// A fault the fake plays on the requests it matches.
#[derive(Debug)]
pub(super) struct Fault {
    /// `GET`, `POST`, ...; any method when `None`.
    pub(super) method: Option<String>,
    /// Requests whose path starts with this.
    pub(super) path_prefix: String,
    pub(super) response: wiremock::ResponseTemplate,
}

impl State {
    /// No users, no codes, one RSA key; id tokens RS256.
    pub(super) fn new() -> Self {
        State {
            users: Users::new(),
            codes: HashMap::new(),
            sent: Vec::new(),
            management_tokens: Vec::new(),
            keys: vec![RsaTestKey::generate("fake-key-1")],
            id_token_algorithm: FakeAlgorithm::Rs256,
            faults: Vec::new(),
        }
    }

    /// "Sends" a fresh 4-digit code to `address` over `connection`,
    /// replacing any pending one, and records it.
    pub(super) fn send_code(&mut self, connection: &str, address: &str) {
        let n = u16::from_be_bytes(random_bytes::<2>()) % 10_000;
        let code = format!("{n:04}");
        self.codes.insert(
            (connection.to_owned(), address.to_owned()),
            PendingCode {
                code: code.clone(),
                attempts: 0,
                issued: Instant::now(),
            },
        );
        self.sent.push(SentCode {
            connection: connection.to_owned(),
            address: address.to_owned(),
            code,
        });
    }

    /// Checks `otp` against the code pending for `address` over
    /// `connection`. A right code is used up, an expired one dropped, and a
    /// wrong one counts an attempt.
    pub(super) fn check_code(
        &mut self,
        connection: &str,
        address: &str,
        otp: &str,
    ) -> Result<(), CodeRejection> {
        let key = (connection.to_owned(), address.to_owned());
        let Some(pending) = self.codes.get_mut(&key) else {
            return Err(CodeRejection::Wrong);
        };
        if pending.attempts >= MAX_ATTEMPTS {
            return Err(CodeRejection::TooManyAttempts);
        }
        if pending.issued.elapsed() > CODE_LIFETIME {
            self.codes.remove(&key);
            return Err(CodeRejection::Expired);
        }
        if pending.code != otp {
            pending.attempts += 1;
            return Err(CodeRejection::Wrong);
        }
        self.codes.remove(&key);
        Ok(())
    }

    /// Makes every pending code expired.
    pub(super) fn expire_codes(&mut self) {
        for code in self.codes.values_mut() {
            code.issued = Instant::now()
                .checked_sub(CODE_LIFETIME + Duration::from_secs(1))
                .unwrap_or(code.issued);
        }
    }
}
