//! Black-box tests of the Auth0 adapters against wiremock and the fake.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pod_adapters_auth0::fake::{self, FakeAlgorithm, FakeAuth0, FakeUser, RsaTestKey, sign_hs256};
use pod_adapters_auth0::{
    Auth0Adapters, Auth0Config, CacheTtls, OTP_GRANT, OidcError, Timeouts, TokenAlgorithm,
    pkce_challenge,
};
#[path = "auth0/service.rs"]
mod service;

use pod_domain::{CodeCheck, ContactPoints, CustomerId, Destination, OrderId, Timestamp};
use pod_ports::testing::ManualClock;
use pod_ports::{
    AccessTokens, Clock, CodeError, CodePurpose, CustomerDirectory, DirectoryError, OneTimeCode,
    OneTimeCodes, TokenError,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Match, Mock, MockServer, Request, Respond, ResponseTemplate};

/// Auth0 draws its own codes: pod hands nothing to deliver.
const NO_CODE: pod_ports::NewCode = pod_ports::NewCode {
    digest: None,
    code: None,
};

const DOMAIN: &str = "tenant.auth0.test";
const API: &str = "https://pod.example/api";
const CLIENT_ID: &str = "client-123";
const CLIENT_SECRET: &str = "client-secret-value-0123456789";
const API_SECRET: &str = "api-signing-secret-0123456789";
const ISS: &str = "https://tenant.auth0.test/";
const ALICE: &str = "auth0|alice";
const ALICE_PATH: &str = "/api/v2/users/auth0%7Calice";

// ---------------------------------------------------------------- helpers

/// A clock tests move by hand.
fn manual_clock() -> Arc<ManualClock> {
    ManualClock::starting_at(Timestamp::from_unix_millis(1_700_000_000_000))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn fast_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_millis(500),
        request: Duration::from_millis(500),
        budget: Duration::from_secs(2),
        retries: 2,
        backoff: Duration::from_millis(1),
    }
}

fn config(server: &MockServer, access: TokenAlgorithm, clock: Arc<ManualClock>) -> Auth0Config {
    Auth0Config::new(
        DOMAIN,
        API,
        CLIENT_ID,
        SecretString::from(CLIENT_SECRET),
        access,
    )
    .unwrap()
    .with_base_url(&server.uri())
    .unwrap()
    .with_timeouts(fast_timeouts())
    .with_clock(clock)
}

fn hs256() -> TokenAlgorithm {
    TokenAlgorithm::Hs256 {
        secret: SecretString::from(API_SECRET),
    }
}

fn hs_adapters(server: &MockServer, clock: Arc<ManualClock>) -> Auth0Adapters {
    Auth0Adapters::new(config(server, hs256(), clock)).unwrap()
}

fn access_claims(sub: &str) -> Value {
    json!({ "iss": ISS, "aud": API, "sub": sub, "iat": now(), "exp": now() + 600 })
}

fn id_claims(sub: &str) -> Value {
    json!({ "iss": ISS, "aud": CLIENT_ID, "sub": sub, "iat": now(), "exp": now() + 600 })
}

fn customer(id: &str) -> CustomerId {
    CustomerId::parse(id).unwrap()
}

fn purpose() -> CodePurpose {
    CodePurpose::ConfirmOrder(OrderId::parse("order-1").unwrap())
}

fn code(c: &str) -> OneTimeCode {
    OneTimeCode::parse(c).unwrap()
}

/// Sends a code for an order of `who` to `destination` (Auth0 draws it).
async fn send_code(
    adapters: &Auth0Adapters,
    who: &CustomerId,
    destination: &Destination,
) -> Result<(), CodeError> {
    adapters
        .codes
        .deliver(who, destination, &purpose(), &NO_CODE)
        .await
}

/// Checks the code `spoken` for an order of `who`, sent to `destination`.
async fn check_code(
    adapters: &Auth0Adapters,
    who: &CustomerId,
    destination: &Destination,
    spoken: &str,
) -> Result<CodeCheck, CodeError> {
    adapters
        .codes
        .check(who, destination, &purpose(), None, &code(spoken))
        .await
}

/// Checks the code `1234` Alice spoke for an order whose code went to her
/// phone.
async fn check_alices_sms_code(adapters: &Auth0Adapters) -> Result<CodeCheck, CodeError> {
    let phone = Destination::sms("+15550100");
    check_code(adapters, &customer(ALICE), &phone, "1234").await
}

/// Matches a form body with exactly these pairs.
struct FormIs(BTreeMap<String, String>);

fn form_is(pairs: &[(&str, &str)]) -> FormIs {
    FormIs(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

impl Match for FormIs {
    fn matches(&self, request: &Request) -> bool {
        let got: BTreeMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        got == self.0
    }
}

fn token_form() -> FormIs {
    form_is(&[
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("audience", "https://tenant.auth0.test/api/v2/"),
    ])
}

/// Hands out `mgmt-1`, `mgmt-2`, … and counts.
#[derive(Clone, Default)]
struct TokenIssuer(Arc<AtomicUsize>, u64);

impl Respond for TokenIssuer {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": format!("mgmt-{n}"), "expires_in": self.1, "token_type": "Bearer",
        }))
    }
}

async fn mount_management_token(server: &MockServer, expires_in: u64, times: u64) -> TokenIssuer {
    let issuer = TokenIssuer(Arc::default(), expires_in);
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(token_form())
        .respond_with(issuer.clone())
        .expect(times)
        .mount(server)
        .await;
    issuer
}

fn alice_json(identities: Value) -> Value {
    json!({
        "user_id": ALICE, "email": "alice@example.com", "phone_number": "+15550100",
        "identities": identities,
    })
}

fn db_identity() -> Value {
    json!([{ "provider": "auth0", "user_id": "alice", "connection": "Username-Password-Authentication" }])
}

fn db_and_sms() -> Value {
    json!([
        { "provider": "auth0", "user_id": "alice", "connection": "Username-Password-Authentication" },
        { "provider": "sms", "user_id": "s1", "connection": "sms" }
    ])
}

async fn mount_alice(server: &MockServer, identities: Value, times: u64) {
    Mock::given(method("GET"))
        .and(path(ALICE_PATH))
        .and(query_param(
            "fields",
            "user_id,email,phone_number,user_metadata,identities",
        ))
        .and(query_param("include_fields", "true"))
        .and(header("authorization", "Bearer mgmt-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(alice_json(identities)))
        .expect(times)
        .mount(server)
        .await;
}

fn start_body(connection: &str, field: &str, address: &str) -> Value {
    json!({
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "connection": connection,
        field: address, "send": "code",
    })
}

async fn mount_start(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path("/passwordless/start"))
        .and(body_json(start_body("sms", "phone_number", "+15550100")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "_id": "x" })))
        .expect(times)
        .mount(server)
        .await;
}

fn otp_form(realm: &str, username: &str, otp: &str) -> FormIs {
    form_is(&[
        ("grant_type", OTP_GRANT),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("realm", realm),
        ("username", username),
        ("otp", otp),
        ("scope", "openid"),
    ])
}

// ---------------------------------------------------------------- access tokens

#[tokio::test]
async fn hs256_access_tokens_are_checked_claim_by_claim() {
    let server = MockServer::start().await;
    let adapters = Auth0Adapters::new(
        config(&server, hs256(), manual_clock()).with_custom_issuer("https://login.example.com"),
    )
    .unwrap();
    let key = API_SECRET.as_bytes();
    let claims = |patch: Value| {
        let mut c = access_claims(ALICE);
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let signed = |patch: Value| sign_hs256(key, &claims(patch));
    let none_token = {
        use base64::Engine as _;
        let e = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.",
            e(&json!({"alg": "none", "typ": "JWT"})),
            e(&access_claims(ALICE))
        )
    };
    let cases: Vec<(&str, String, bool)> = vec![
        ("valid", signed(json!({})), true),
        (
            "audience array",
            signed(json!({"aud": ["other", API]})),
            true,
        ),
        (
            "custom domain issuer",
            signed(json!({"iss": "https://login.example.com/"})),
            true,
        ),
        ("within leeway", signed(json!({"exp": now() - 5})), true),
        ("expired", signed(json!({"exp": now() - 120})), false),
        (
            "exp as a string",
            signed(json!({"exp": (now() + 600).to_string()})),
            false,
        ),
        ("nbf as a string", signed(json!({"nbf": "0"})), false),
        ("no exp", signed(json!({"exp": null})), false),
        ("no sub", signed(json!({"sub": null})), false),
        ("no aud", signed(json!({"aud": null})), false),
        ("no iss", signed(json!({"iss": null})), false),
        (
            "other audience",
            signed(json!({"aud": "https://other/api"})),
            false,
        ),
        (
            "other issuer",
            signed(json!({"iss": "https://evil.auth0.com/"})),
            false,
        ),
        (
            "issuer without slash",
            signed(json!({"iss": "https://tenant.auth0.test"})),
            false,
        ),
        (
            "other secret",
            sign_hs256(b"not-the-secret", &claims(json!({}))),
            false,
        ),
        ("alg none", none_token, false),
        ("garbage", "not.a.jwt".into(), false),
        ("empty", String::new(), false),
        ("two parts", "abc.def".into(), false),
        ("huge", "a".repeat(100_000), false),
    ];
    for (name, token, ok) in cases {
        let got = adapters.access_tokens.customer_for_token(&token).await;
        if ok {
            assert_eq!(got, Ok(customer(ALICE)), "{name}");
        } else {
            assert!(
                matches!(got, Err(TokenError::Invalid(_))),
                "{name}: {got:?}"
            );
        }
    }
    // HS256 needs no peer.
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// Serves a JWKS that tests can change, counting fetches.
#[derive(Clone, Default)]
struct JwksServer {
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

impl Respond for JwksServer {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(200)
            .set_body_json(json!({ "keys": self.keys.lock().unwrap().clone() }))
    }
}

async fn mount_jwks(server: &MockServer, keys: Vec<Value>) -> JwksServer {
    let jwks = JwksServer::default();
    *jwks.keys.lock().unwrap() = keys;
    Mock::given(method("GET"))
        .and(path("/.well-known/jwks.json"))
        .respond_with(jwks.clone())
        .mount(server)
        .await;
    jwks
}

#[tokio::test]
async fn rs256_access_tokens_resist_algorithm_attacks() {
    let server = MockServer::start().await;
    let key = RsaTestKey::generate("k1");
    let jwks = mount_jwks(&server, vec![key.jwk()]).await;
    let adapters =
        Auth0Adapters::new(config(&server, TokenAlgorithm::Rs256, manual_clock())).unwrap();
    let tokens = &adapters.access_tokens;

    assert_eq!(
        tokens
            .customer_for_token(&key.sign(&access_claims(ALICE)))
            .await,
        Ok(customer(ALICE))
    );

    let mut expired = access_claims(ALICE);
    expired["exp"] = json!(now() - 3600);
    let mut other_aud = access_claims(ALICE);
    other_aud["aud"] = json!("https://other/api");
    let mut other_iss = access_claims(ALICE);
    other_iss["iss"] = json!("https://evil.example/");
    let mut string_exp = access_claims(ALICE);
    string_exp["exp"] = json!("99999999999");
    // The classic confusion: HS256 keyed with the RSA public key.
    let confused = sign_hs256(key.public_der(), &access_claims(ALICE));
    let stranger = RsaTestKey::generate("k1").sign(&access_claims(ALICE));
    let cases = [
        ("expired", key.sign(&expired)),
        ("other audience", key.sign(&other_aud)),
        ("other issuer", key.sign(&other_iss)),
        ("exp as a string", key.sign(&string_exp)),
        ("HS256 with the public key", confused),
        ("same kid, other key", stranger),
    ];
    for (name, token) in cases {
        let got = tokens.customer_for_token(&token).await;
        assert!(
            matches!(got, Err(TokenError::Invalid(_))),
            "{name}: {got:?}"
        );
    }
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        1,
        "one JWKS fetch for all of them"
    );
}

#[tokio::test]
async fn jwks_rotation_refetches_once_and_is_rate_limited() {
    let server = MockServer::start().await;
    let k1 = RsaTestKey::generate("k1");
    let k2 = RsaTestKey::generate("k2");
    let k3 = RsaTestKey::generate("k3");
    let jwks = mount_jwks(&server, vec![k1.jwk()]).await;
    let clock = manual_clock();
    let adapters =
        Auth0Adapters::new(config(&server, TokenAlgorithm::Rs256, clock.clone())).unwrap();
    let fetches = || jwks.fetches.load(Ordering::SeqCst);
    // Alice's access token, signed with `key`.
    let alice_signed_with = async |key: &RsaTestKey| {
        let token = key.sign(&access_claims(ALICE));
        adapters.access_tokens.customer_for_token(&token).await
    };

    assert!(alice_signed_with(&k1).await.is_ok());
    assert_eq!(fetches(), 1);

    // Rotation: k2 appears in the JWKS and a token names it.
    clock.advance(Duration::from_secs(31));
    jwks.keys.lock().unwrap().push(k2.jwk());
    assert!(alice_signed_with(&k2).await.is_ok());
    assert_eq!(fetches(), 2, "an unknown kid refetches");

    // An unknown kid right after: no refetch.
    for _ in 0..5 {
        let got = alice_signed_with(&k3).await;
        assert!(matches!(got, Err(TokenError::Invalid(_))));
    }
    assert_eq!(fetches(), 2, "refetches are rate limited");

    clock.advance(Duration::from_secs(31));
    assert!(alice_signed_with(&k3).await.is_err());
    assert_eq!(fetches(), 3, "after the interval one more refetch");
    assert!(alice_signed_with(&k1).await.is_ok());
    assert_eq!(fetches(), 3, "known keys come from the cache");

    clock.advance(Duration::from_secs(11 * 60));
    assert!(alice_signed_with(&k1).await.is_ok());
    assert_eq!(fetches(), 4, "the cache expires");
}

#[tokio::test]
async fn an_unreachable_jwks_makes_tokens_uncheckable_not_invalid() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/jwks.json"))
        .respond_with(ResponseTemplate::new(503))
        .expect(3)
        .mount(&server)
        .await;
    let adapters =
        Auth0Adapters::new(config(&server, TokenAlgorithm::Rs256, manual_clock())).unwrap();
    let key = RsaTestKey::generate("k1");
    let got = adapters
        .access_tokens
        .customer_for_token(&key.sign(&access_claims(ALICE)))
        .await;
    assert!(matches!(got, Err(TokenError::Unavailable(_))), "{got:?}");
    // A failure is not retried at once on the next request.
    let again = adapters
        .access_tokens
        .customer_for_token(&key.sign(&access_claims(ALICE)))
        .await;
    assert!(matches!(again, Err(TokenError::Unavailable(_))));
}

// ---------------------------------------------------------------- management token

#[tokio::test]
async fn fifty_orders_cost_one_management_token_and_one_lookup() {
    let server = MockServer::start().await;
    let issuer = mount_management_token(&server, 86_400, 1).await;
    mount_alice(&server, db_and_sms(), 1).await;
    mount_start(&server, 50).await;
    let adapters = hs_adapters(&server, manual_clock());
    let alice = customer(ALICE);
    for _ in 0..50 {
        place(&adapters, &alice).await;
    }
    assert_eq!(issuer.0.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn concurrent_requests_share_one_token_fetch_and_one_refresh() {
    let server = MockServer::start().await;
    let issuer = mount_management_token(&server, 600, 2).await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(
            "^/api/v2/users/auth0%7Cu[0-9]+$",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "email": "u@example.com" })))
        .expect(60)
        .mount(&server)
        .await;
    let clock = manual_clock();
    let adapters = Auth0Adapters::new(config(&server, hs256(), clock.clone()).with_cache_ttls(
        CacheTtls {
            management_token_margin: Duration::from_secs(60),
            ..CacheTtls::default()
        },
    ))
    .unwrap();
    let fetched = || issuer.0.load(Ordering::SeqCst);
    let run = |round: usize| {
        let directory = adapters.directory.clone();
        async move {
            let calls = (0..20).map(|i| {
                let directory = directory.clone();
                async move {
                    directory
                        .contact_points(&customer(&format!("auth0|u{}", round * 100 + i)))
                        .await
                }
            });
            for result in futures_join(calls).await {
                assert_eq!(result.unwrap().email.as_deref(), Some("u@example.com"));
            }
        }
    };
    run(0).await;
    assert_eq!(fetched(), 1, "one fetch for 20 concurrent callers");
    clock.advance(Duration::from_secs(500));
    run(1).await;
    assert_eq!(fetched(), 1, "still fresh before the margin");
    clock.advance(Duration::from_secs(41));
    run(2).await;
    assert_eq!(fetched(), 2, "one refresh near expiry for 20 callers");
}

/// Joins futures concurrently on the current task.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_refused_management_token_is_replaced_once() {
    let server = MockServer::start().await;
    let issuer = mount_management_token(&server, 86_400, 2).await;
    Mock::given(method("GET"))
        .and(path(ALICE_PATH))
        .and(header("authorization", "Bearer mgmt-1"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"statusCode": 401, "error": "Unauthorized"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(ALICE_PATH))
        .and(header("authorization", "Bearer mgmt-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(alice_json(db_identity())))
        .expect(1)
        .mount(&server)
        .await;
    let adapters = hs_adapters(&server, manual_clock());
    assert!(
        adapters
            .directory
            .contact_points(&customer(ALICE))
            .await
            .is_ok()
    );
    assert_eq!(issuer.0.load(Ordering::SeqCst), 2);
}

// ---------------------------------------------------------------- directory

#[tokio::test]
async fn contact_points_come_from_the_user_or_its_metadata() {
    let cases = [
        (
            json!({"email": "a@x.com", "phone_number": "+1555"}),
            Some("a@x.com"),
            Some("+1555"),
        ),
        (
            json!({"email": "a@x.com", "user_metadata": {"phone_number": "+1666"}}),
            Some("a@x.com"),
            Some("+1666"),
        ),
        (
            json!({"email": "a@x.com", "phone_number": "+1555", "user_metadata": {"phone_number": "+1666"}}),
            Some("a@x.com"),
            Some("+1555"),
        ),
        (
            json!({"email": "a@x.com", "user_metadata": {"phone_number": 5}}),
            Some("a@x.com"),
            None,
        ),
        (json!({"email": "  "}), None, None),
        (json!({}), None, None),
    ];
    for (n, (user, email, phone)) in cases.into_iter().enumerate() {
        let server = MockServer::start().await;
        mount_management_token(&server, 86_400, 1).await;
        Mock::given(method("GET"))
            .and(path(ALICE_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(user))
            .expect(1)
            .mount(&server)
            .await;
        let adapters = hs_adapters(&server, manual_clock());
        let got = adapters
            .directory
            .contact_points(&customer(ALICE))
            .await
            .unwrap();
        let want = ContactPoints {
            email: email.map(str::to_owned),
            phone: phone.map(str::to_owned),
        };
        assert_eq!(got, want, "case {n}");
    }
}

#[tokio::test]
async fn directory_errors_are_mapped() {
    // (status, calls expected, outcome)
    type Check = fn(&Result<ContactPoints, DirectoryError>) -> bool;
    let cases: [(u16, u64, Check); 4] = [
        (404, 1, |r| {
            matches!(r, Err(DirectoryError::UnknownCustomer))
        }),
        (500, 3, |r| matches!(r, Err(DirectoryError::Unavailable(_)))),
        (429, 1, |r| matches!(r, Err(DirectoryError::Unavailable(_)))),
        (403, 1, |r| matches!(r, Err(DirectoryError::Unavailable(_)))),
    ];
    for (status, calls, check) in cases {
        let server = MockServer::start().await;
        mount_management_token(&server, 86_400, 1).await;
        Mock::given(method("GET"))
            .and(path(ALICE_PATH))
            .respond_with(
                ResponseTemplate::new(status).set_body_json(json!({"statusCode": status})),
            )
            .expect(calls)
            .mount(&server)
            .await;
        let adapters = hs_adapters(&server, manual_clock());
        let got = adapters.directory.contact_points(&customer(ALICE)).await;
        assert!(check(&got), "{status}: {got:?}");
    }
}

#[tokio::test]
async fn rate_limit_headers_pause_management_calls_until_reset() {
    let server = MockServer::start().await;
    mount_management_token(&server, 86_400, 1).await;
    let clock = manual_clock();
    let reset = clock.now().unix_seconds() + 10;
    Mock::given(method("GET"))
        .and(path(ALICE_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(alice_json(db_identity()))
                .insert_header("x-ratelimit-limit", "50")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str()),
        )
        .expect(2)
        .mount(&server)
        .await;
    let adapters = Auth0Adapters::new(config(&server, hs256(), clock.clone()).with_cache_ttls(
        CacheTtls {
            directory: Duration::ZERO,
            ..CacheTtls::default()
        },
    ))
    .unwrap();
    let alice = customer(ALICE);
    assert!(adapters.directory.contact_points(&alice).await.is_ok());
    let paused = adapters.directory.contact_points(&alice).await;
    assert!(
        matches!(paused, Err(DirectoryError::Unavailable(ref r)) if r.contains("rate")),
        "{paused:?}"
    );
    clock.advance(Duration::from_secs(11));
    assert!(adapters.directory.contact_points(&alice).await.is_ok());
}

#[tokio::test]
async fn a_missing_passwordless_identity_is_created_and_linked_once() {
    let server = MockServer::start().await;
    mount_management_token(&server, 86_400, 1).await;
    mount_alice(&server, db_identity(), 1).await;
    Mock::given(method("POST"))
        .and(path("/api/v2/users"))
        .and(header("authorization", "Bearer mgmt-1"))
        .and(body_json(
            json!({"connection": "sms", "phone_number": "+15550100"}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"user_id": "sms|p123"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/users/auth0%7Calice/identities"))
        .and(body_json(json!({"provider": "sms", "user_id": "p123"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let adapters = hs_adapters(&server, manual_clock());
    let alice = customer(ALICE);
    let sms = Destination::sms("+15550100");
    adapters
        .directory
        .ensure_passwordless_identity(&alice, &sms)
        .await
        .unwrap();
    adapters
        .directory
        .ensure_passwordless_identity(&alice, &sms)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_present_passwordless_identity_is_left_alone() {
    let server = MockServer::start().await;
    mount_management_token(&server, 86_400, 1).await;
    mount_alice(&server, db_and_sms(), 1).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let adapters = hs_adapters(&server, manual_clock());
    adapters
        .directory
        .ensure_passwordless_identity(&customer(ALICE), &Destination::sms("+15550100"))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_existing_passwordless_user_409_is_found_and_linked() {
    let server = MockServer::start().await;
    mount_management_token(&server, 86_400, 1).await;
    mount_alice(&server, db_identity(), 1).await;
    Mock::given(method("POST"))
        .and(path("/api/v2/users"))
        .and(body_json(
            json!({"connection": "email", "email": "alice@example.com"}),
        ))
        .respond_with(
            ResponseTemplate::new(409)
                .set_body_json(json!({"statusCode": 409, "message": "The user already exists."})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users-by-email"))
        .and(query_param("email", "alice@example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"user_id": ALICE, "email": "alice@example.com"},
            {"user_id": "email|e77", "email": "alice@example.com"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/users/auth0%7Calice/identities"))
        .and(body_json(json!({"provider": "email", "user_id": "e77"})))
        .respond_with(ResponseTemplate::new(409))
        .expect(1)
        .mount(&server)
        .await;
    let adapters = hs_adapters(&server, manual_clock());
    adapters
        .directory
        .ensure_passwordless_identity(&customer(ALICE), &Destination::email("alice@example.com"))
        .await
        .unwrap();
}

// ---------------------------------------------------------------- codes

#[tokio::test]
async fn sending_codes_maps_auth0_answers() {
    let cases: [(u16, u64, Result<(), CodeError>); 5] = [
        (200, 1, Ok(())),
        (429, 1, Err(CodeError::RateLimited)),
        (
            400,
            1,
            Err(CodeError::DeliveryFailed(
                "Auth0 answered 400 (bad.phone_number)".into(),
            )),
        ),
        (
            401,
            1,
            Err(CodeError::Unavailable(
                "Auth0 answered 401 (unauthorized_client)".into(),
            )),
        ),
        (
            503,
            3,
            Err(CodeError::Unavailable("Auth0 answered 503".into())),
        ),
    ];
    for (status, calls, want) in cases {
        let server = MockServer::start().await;
        let error = match status {
            400 => json!({"error": "bad.phone_number"}),
            401 => json!({"error": "unauthorized_client"}),
            _ => json!({}),
        };
        Mock::given(method("POST"))
            .and(path("/passwordless/start"))
            .and(body_json(start_body("sms", "phone_number", "+15550100")))
            .respond_with(ResponseTemplate::new(status).set_body_json(error))
            .expect(calls)
            .mount(&server)
            .await;
        let adapters = hs_adapters(&server, manual_clock());
        let got = send_code(&adapters, &customer(ALICE), &Destination::sms("+15550100")).await;
        assert_eq!(got, want, "{status}");
        assert!(!format!("{got:?}").contains(CLIENT_SECRET));
    }
}

#[tokio::test]
async fn email_codes_go_to_the_email_connection() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/passwordless/start"))
        .and(body_json(start_body("email", "email", "alice@example.com")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let adapters = hs_adapters(&server, manual_clock());
    send_code(
        &adapters,
        &customer(ALICE),
        &Destination::email("alice@example.com"),
    )
    .await
    .unwrap();
}

fn hs_id_token(claims: &Value) -> String {
    sign_hs256(CLIENT_SECRET.as_bytes(), claims)
}

#[tokio::test]
async fn verifying_codes_maps_auth0_answers() {
    let valid = hs_id_token(&id_claims(ALICE));
    let mut wrong_aud = id_claims(ALICE);
    wrong_aud["aud"] = json!(API);
    let mut wrong_iss = id_claims(ALICE);
    wrong_iss["iss"] = json!("https://evil.example/");
    let mut expired = id_claims(ALICE);
    expired["exp"] = json!(now() - 3600);
    let ok = |token: String| {
        ResponseTemplate::new(200).set_body_json(json!({"id_token": token, "access_token": "a"}))
    };
    let refused = |d: &str| {
        ResponseTemplate::new(403)
            .set_body_json(json!({"error": "invalid_grant", "error_description": d}))
    };
    type Want = Result<CodeCheck, fn(&CodeError) -> bool>;
    let unavailable: fn(&CodeError) -> bool = |e| matches!(e, CodeError::Unavailable(_));
    let cases: Vec<(&str, ResponseTemplate, u64, Want)> = vec![
        ("right code", ok(valid), 1, Ok(CodeCheck::Valid)),
        (
            "other sub",
            ok(hs_id_token(&id_claims("sms|stranger"))),
            1,
            Ok(CodeCheck::Invalid),
        ),
        (
            "wrong email",
            refused("Wrong email or verification code."),
            1,
            Ok(CodeCheck::Invalid),
        ),
        (
            "wrong phone",
            refused("Wrong phone number or verification code."),
            1,
            Ok(CodeCheck::Invalid),
        ),
        (
            "locked",
            refused("You've reached the maximum number of attempts. Please try to login again."),
            1,
            Ok(CodeCheck::Locked),
        ),
        (
            "expired code",
            refused("The verification code has expired. Please try to login again."),
            1,
            Ok(CodeCheck::Expired),
        ),
        (
            "rate limited",
            ResponseTemplate::new(429),
            1,
            Err(|e| *e == CodeError::RateLimited),
        ),
        (
            "server error",
            ResponseTemplate::new(500),
            3,
            Err(unavailable),
        ),
        (
            "garbage",
            ResponseTemplate::new(200).set_body_string("<html>"),
            1,
            Err(unavailable),
        ),
        (
            "no id token",
            ResponseTemplate::new(200).set_body_json(json!({"access_token": "a"})),
            1,
            Err(unavailable),
        ),
        (
            "id token for another audience",
            ok(hs_id_token(&wrong_aud)),
            1,
            Err(unavailable),
        ),
        (
            "id token from another issuer",
            ok(hs_id_token(&wrong_iss)),
            1,
            Err(unavailable),
        ),
        (
            "expired id token",
            ok(hs_id_token(&expired)),
            1,
            Err(unavailable),
        ),
        (
            "forged id token",
            ok(sign_hs256(b"forged", &id_claims(ALICE))),
            1,
            Err(unavailable),
        ),
        (
            "unauthorized client",
            ResponseTemplate::new(401).set_body_json(json!({"error": "access_denied"})),
            1,
            Err(unavailable),
        ),
    ];
    for (name, response, calls, want) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .and(otp_form("sms", "+15550100", "1234"))
            .respond_with(response)
            .expect(calls)
            .mount(&server)
            .await;
        let adapters = hs_adapters(&server, manual_clock());
        let got = check_alices_sms_code(&adapters).await;
        match want {
            Ok(check) => assert_eq!(got, Ok(check), "{name}"),
            Err(is) => assert!(got.as_ref().is_err_and(is), "{name}: {got:?}"),
        }
        let shown = format!("{got:?}");
        assert!(
            !shown.contains("1234") && !shown.contains(CLIENT_SECRET),
            "{name}"
        );
    }
}

#[tokio::test]
async fn rs256_id_tokens_are_verified_with_the_jwks() {
    let server = MockServer::start().await;
    let key = RsaTestKey::generate("k1");
    mount_jwks(&server, vec![key.jwk()]).await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id_token": key.sign(&id_claims(ALICE))})),
        )
        .mount(&server)
        .await;
    let adapters =
        Auth0Adapters::new(config(&server, TokenAlgorithm::Rs256, manual_clock())).unwrap();
    let got = check_code(
        &adapters,
        &customer(ALICE),
        &Destination::email("a@x.com"),
        "5555",
    )
    .await;
    assert_eq!(got, Ok(CodeCheck::Valid));
}

#[tokio::test]
async fn slow_auth0_is_unavailable_within_the_budget() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let adapters = Auth0Adapters::new(config(&server, hs256(), manual_clock()).with_timeouts(
        Timeouts {
            request: Duration::from_millis(200),
            budget: Duration::from_millis(600),
            ..fast_timeouts()
        },
    ))
    .unwrap();
    let started = std::time::Instant::now();
    let got = check_alices_sms_code(&adapters).await;
    assert!(matches!(got, Err(CodeError::Unavailable(_))), "{got:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // A timed-out code check is not sent again: it may have counted.
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

// ---------------------------------------------------------------- upstream calls per order

/// What the ordering service asks of the adapters for one order; where the
/// code went.
async fn place(adapters: &Auth0Adapters, who: &CustomerId) -> Destination {
    let contacts = adapters.directory.contact_points(who).await.unwrap();
    let destination = contacts.preferred_destination().unwrap();
    adapters
        .directory
        .ensure_passwordless_identity(who, &destination)
        .await
        .unwrap();
    send_code(adapters, who, &destination).await.unwrap();
    destination
}

/// … and for one confirmation.
async fn confirm(adapters: &Auth0Adapters, who: &CustomerId) -> CodeCheck {
    let contacts = adapters.directory.contact_points(who).await.unwrap();
    let destination = Destination::sms(contacts.phone.unwrap());
    check_code(adapters, who, &destination, "1234")
        .await
        .unwrap()
}

#[tokio::test]
async fn upstream_calls_per_order_and_confirmation() {
    // Cold, identity missing: token + user + create + link + start = 5.
    // Then confirmation, warm directory: OTP grant = 1.
    // Warm order: start = 1. Cold again after the directory TTL: user + start = 2.
    let server = MockServer::start().await;
    mount_management_token(&server, 86_400, 1).await;
    mount_alice(&server, db_identity(), 1).await;
    Mock::given(method("POST"))
        .and(path("/api/v2/users"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"user_id": "sms|p1"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/users/auth0%7Calice/identities"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    mount_start(&server, 3).await;
    mount_otp_grant(&server, 2).await;
    let clock = manual_clock();
    let adapters = hs_adapters(&server, clock.clone());
    let alice = customer(ALICE);
    let count = || async { server.received_requests().await.unwrap().len() };

    place(&adapters, &alice).await;
    assert_eq!(count().await, 5, "cold order, identity missing");
    assert_eq!(confirm(&adapters, &alice).await, CodeCheck::Valid);
    assert_eq!(count().await, 6, "warm confirmation");
    place(&adapters, &alice).await;
    assert_eq!(count().await, 7, "warm order");
    clock.advance(Duration::from_secs(61));
    // The fresh lookup shows no sms identity (the mock is static), so pod
    // would provision again; here the identity now exists in Auth0.
    adapters.directory.invalidate(&alice);
    server.reset().await;
    mount_alice_after_link(&server).await;
    mount_start(&server, 1).await;
    mount_otp_grant(&server, 1).await;
    place(&adapters, &alice).await;
    assert_eq!(
        count().await,
        2,
        "order after the directory TTL: user + start (token cached)"
    );
    assert_eq!(confirm(&adapters, &alice).await, CodeCheck::Valid);
    assert_eq!(count().await, 3, "confirmation: OTP grant only");
}

/// Auth0 accepting Alice's SMS code `1234`, `times` times.
async fn mount_otp_grant(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(otp_form("sms", "+15550100", "1234"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id_token": hs_id_token(&id_claims(ALICE))})),
        )
        .expect(times)
        .mount(server)
        .await;
}

async fn mount_alice_after_link(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(ALICE_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(alice_json(db_and_sms())))
        .expect(1)
        .mount(server)
        .await;
}

// ---------------------------------------------------------------- OIDC

#[tokio::test]
async fn oidc_login_uses_pkce_state_and_nonce() {
    let server = MockServer::start().await;
    let adapters = hs_adapters(&server, manual_clock());
    let oidc = &adapters.oidc;
    let start = oidc
        .begin_login("https://pod.example/app/oidc/callback")
        .unwrap();
    let url = &start.authorize_url;
    assert_eq!(url.path(), "/authorize");
    let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["state"], start.pending.state());
    assert_eq!(q["nonce"], start.pending.nonce());
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    let challenge = q["code_challenge"].clone();

    let mut claims = id_claims(ALICE);
    claims["nonce"] = json!(start.pending.nonce());
    claims["email"] = json!("alice@example.com");
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id_token": hs_id_token(&claims)})),
        )
        .mount(&server)
        .await;

    assert_eq!(
        oidc.complete_login(&start.pending, "forged-state", "c0de")
            .await
            .unwrap_err(),
        OidcError::StateMismatch
    );
    let login = oidc
        .complete_login(&start.pending, start.pending.state(), "c0de")
        .await
        .unwrap();
    assert_eq!(login.customer, customer(ALICE));
    assert_eq!(login.email.as_deref(), Some("alice@example.com"));

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "a state mismatch never reaches Auth0");
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(&requests[0].body)
        .into_owned()
        .collect();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "c0de");
    assert_eq!(
        form["redirect_uri"],
        "https://pod.example/app/oidc/callback"
    );
    assert_eq!(
        pkce_challenge(&form["code_verifier"]),
        challenge,
        "S256(verifier) = challenge"
    );

    // Another login's id token (other nonce) is refused.
    let other = oidc
        .begin_login("https://pod.example/app/oidc/callback")
        .unwrap();
    assert_ne!(other.pending.state(), start.pending.state());
    let got = oidc
        .complete_login(&other.pending, other.pending.state(), "c0de")
        .await;
    assert!(matches!(got, Err(OidcError::InvalidIdToken(_))), "{got:?}");

    let logout = oidc.logout_url("https://pod.example/app/", Some(&login.id_token));
    assert_eq!(logout.path(), "/oidc/logout");
    let q: BTreeMap<String, String> = logout.query_pairs().into_owned().collect();
    assert_eq!(q["post_logout_redirect_uri"], "https://pod.example/app/");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert!(q.contains_key("id_token_hint"));
}

#[test]
fn pkce_challenge_matches_rfc_7636_example() {
    assert_eq!(
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn configuration_is_validated_and_never_shows_secrets() {
    let make = |domain: &str| {
        Auth0Config::new(
            domain,
            API,
            CLIENT_ID,
            SecretString::from(CLIENT_SECRET),
            hs256(),
        )
    };
    assert!(make("tenant.eu.auth0.com").is_ok());
    for bad in [
        "",
        "https://tenant.auth0.com",
        "tenant.auth0.com/path",
        "a b",
    ] {
        assert!(make(bad).is_err(), "{bad}");
    }
    let config = make("Tenant.auth0.com/")
        .unwrap()
        .with_custom_issuer("https://login.example.com");
    assert_eq!(
        config.issuers(),
        ["https://tenant.auth0.com/", "https://login.example.com/"]
    );
    assert_eq!(
        config.management_audience(),
        "https://tenant.auth0.com/api/v2/"
    );
    let shown = format!("{config:?}");
    assert!(
        !shown.contains(CLIENT_SECRET) && !shown.contains(API_SECRET),
        "{shown}"
    );
    assert!(Auth0Config::new(DOMAIN, API, CLIENT_ID, SecretString::from(""), hs256()).is_err());
}

// ---------------------------------------------------------------- the fake

/// A wrong code: any code but `sent`.
fn other_than(sent: &str) -> &'static str {
    if sent == "0000" { "1111" } else { "0000" }
}

#[tokio::test]
async fn the_fake_sends_and_verifies_codes_like_auth0() {
    let auth0 = FakeAuth0::start().await;
    auth0.add_user(
        FakeUser::new(ALICE)
            .with_email("alice@example.com")
            .with_metadata_phone("+15550199"),
    );
    let adapters =
        Auth0Adapters::new(auth0.config(FakeAlgorithm::Hs256, FakeAlgorithm::Rs256)).unwrap();

    // Alexa's access token.
    let token = auth0.mint_access_token(ALICE, FakeAlgorithm::Hs256);
    let alice = adapters
        .access_tokens
        .customer_for_token(&token)
        .await
        .unwrap();
    assert_eq!(alice, customer(ALICE));

    // Order: SMS to the metadata phone, identity provisioned and linked.
    let sms = place(&adapters, &alice).await;
    assert_eq!(sms, Destination::sms("+15550199"));
    assert_eq!(auth0.user(ALICE).unwrap().linked.len(), 1);
    let sent = auth0.last_code("+15550199").unwrap();

    // Wrong, then right (sub is the primary user thanks to the link).
    assert_eq!(
        check_code(&adapters, &alice, &sms, other_than(&sent)).await,
        Ok(CodeCheck::Invalid)
    );
    assert_eq!(
        check_code(&adapters, &alice, &sms, &sent).await,
        Ok(CodeCheck::Valid)
    );
    // Used up.
    assert_eq!(
        check_code(&adapters, &alice, &sms, &sent).await,
        Ok(CodeCheck::Invalid)
    );

    // Three wrong codes lock the next code; an expired one is expired.
    send_code(&adapters, &alice, &sms).await.unwrap();
    let sent = auth0.last_code("+15550199").unwrap();
    for _ in 0..3 {
        check_code(&adapters, &alice, &sms, other_than(&sent))
            .await
            .unwrap();
    }
    assert_eq!(
        check_code(&adapters, &alice, &sms, &sent).await,
        Ok(CodeCheck::Locked)
    );
    send_code(&adapters, &alice, &sms).await.unwrap();
    auth0.expire_codes();
    let sent = auth0.last_code("+15550199").unwrap();
    assert_eq!(
        check_code(&adapters, &alice, &sms, &sent).await,
        Ok(CodeCheck::Expired)
    );
    assert_eq!(auth0.sent_codes().len(), 3);
}

#[tokio::test]
async fn the_fake_serves_rs256_access_tokens_and_unknown_users() {
    let auth0 = FakeAuth0::start().await;
    auth0.add_user(FakeUser::new("auth0|bob").with_email("bob@example.com"));
    let adapters =
        Auth0Adapters::new(auth0.config(FakeAlgorithm::Rs256, FakeAlgorithm::Hs256)).unwrap();
    let token = auth0.mint_access_token("auth0|bob", FakeAlgorithm::Rs256);
    let bob = adapters
        .access_tokens
        .customer_for_token(&token)
        .await
        .unwrap();
    // HS256 tokens are refused when RS256 is configured.
    let hs = auth0.mint_access_token("auth0|bob", FakeAlgorithm::Hs256);
    assert!(
        adapters
            .access_tokens
            .customer_for_token(&hs)
            .await
            .is_err()
    );
    // Email passwordless with an HS256 id token.
    let email = place(&adapters, &bob).await;
    let sent = auth0.last_code("bob@example.com").unwrap();
    assert_eq!(
        check_code(&adapters, &bob, &email, &sent).await,
        Ok(CodeCheck::Valid)
    );
    assert_eq!(
        adapters
            .directory
            .contact_points(&customer("auth0|nobody"))
            .await,
        Err(DirectoryError::UnknownCustomer)
    );
    // A new signing key is picked up from the JWKS.
    let kid = auth0.rotate_key();
    assert_eq!(auth0.rsa_key().kid(), kid);
    let token = auth0.mint_access_token("auth0|bob", FakeAlgorithm::Rs256);
    assert_eq!(
        adapters.access_tokens.customer_for_token(&token).await,
        Ok(bob)
    );
    assert!(auth0.request_count().await > 0);
    assert_eq!(fake::DOMAIN, "fake-tenant.auth0.test");
}
