//! Integration tests of the embedded identity, against the real SQLite
//! store, a fake clock, and a fake SMTP server on 127.0.0.1.

#[path = "local/smtp_faults.rs"]
mod smtp_faults;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pod_adapters_local::*;
use pod_adapters_sql::SqlStore;
use pod_domain::{Channel, CodeCheck, CodeDigest, CustomerId, Destination, OrderId, Timestamp};
use pod_ports::testing::smtp::fake_smtp;
use pod_ports::testing::{FixedCodes, ManualClock};
use pod_ports::{
    AccessTokens, Clock, CodeError, CodeGenerator, CodePurpose, CustomerDirectory, DirectoryError,
    NewCode, OneTimeCode, OneTimeCodes, OrderIds, TokenError,
};
use tokio::net::TcpListener;

// ---------------------------------------------------------------- helpers

/// 2025-01-02T03:04:05.678Z
const T0: i64 = 1_735_787_045_678;

/// A delivery that always fails.
#[derive(Debug)]
struct Broken;

#[async_trait::async_trait]
impl CodeDelivery for Broken {
    fn handles(&self, _: Channel) -> bool {
        true
    }
    async fn deliver(&self, _: &CodeMessage<'_>) -> Result<(), DeliveryError> {
        Err(DeliveryError::Smtp("down".into()))
    }
}

struct Env {
    dir: tempfile::TempDir,
    store: Arc<SqlStore>,
    clock: Arc<ManualClock>,
}

impl Env {
    async fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqlStore::open_sqlite(&dir.path().join("pod.db"))
                .await
                .unwrap(),
        );
        Env {
            dir,
            store,
            clock: ManualClock::starting_at(Timestamp::from_unix_millis(T0)),
        }
    }

    fn outbox_path(&self) -> PathBuf {
        self.dir.path().join(Outbox::FILE_NAME)
    }

    fn config(&self) -> LocalCodesConfig {
        LocalCodesConfig {
            code_digits: 4,
            hash_key: CodeHashKey::new(&[7u8; 32]),
        }
    }

    fn codes_with(
        &self,
        generator: Arc<dyn CodeGenerator>,
        deliveries: Vec<Arc<dyn CodeDelivery>>,
    ) -> LocalCodes {
        LocalCodes::new(
            generator,
            self.clock.clone(),
            Duration::from_secs(300),
            deliveries,
            self.config(),
        )
        .unwrap()
    }

    fn codes(&self) -> LocalCodes {
        self.codes_drawn_by(Arc::new(OsCodeGenerator))
    }

    /// Codes drawn by `generator`, written to the outbox.
    fn codes_drawn_by(&self, generator: Arc<dyn CodeGenerator>) -> LocalCodes {
        let outbox = Outbox::in_data_dir(self.dir.path());
        self.codes_with(generator, vec![Arc::new(outbox)])
    }

    fn outbox(&self, who: Option<&str>, last: Option<usize>) -> Vec<OutboxEntry> {
        Outbox::read(&self.outbox_path(), who, last).unwrap()
    }

    fn last_code(&self) -> OneTimeCode {
        let entry = self
            .outbox(None, Some(1))
            .pop()
            .expect("a code in the outbox");
        OneTimeCode::parse(&entry.code).unwrap()
    }
}

fn cid(s: &str) -> CustomerId {
    CustomerId::parse(s).unwrap()
}

fn order(s: &str) -> CodePurpose {
    CodePurpose::ConfirmOrder(OrderId::parse(s).unwrap())
}

fn email(s: &str) -> Destination {
    Destination::email(s)
}

/// Issues a code and delivers it, as the service does around its commit.
async fn send(
    codes: &LocalCodes,
    who: &CustomerId,
    dest: &Destination,
    purpose: &CodePurpose,
) -> Result<NewCode, CodeError> {
    let issued = codes.issue(who, purpose);
    codes.deliver(who, dest, purpose, &issued).await?;
    Ok(issued)
}

/// What `codes` makes of `spoken` for `who`'s `purpose`, sent to `dest`, with
/// the digest the account kept.
async fn check_code(
    codes: &LocalCodes,
    who: &CustomerId,
    dest: &Destination,
    purpose: &CodePurpose,
    digest: Option<CodeDigest>,
    spoken: &OneTimeCode,
) -> CodeCheck {
    codes
        .check(who, dest, purpose, digest, spoken)
        .await
        .unwrap()
}

/// A code that differs from `code` in every digit.
fn wrong(code: &OneTimeCode) -> OneTimeCode {
    let s: String = code
        .expose()
        .chars()
        .map(|c| char::from(b'0' + (c as u8 - b'0' + 1) % 10))
        .collect();
    OneTimeCode::parse(&s).unwrap()
}

// ---------------------------------------------------------------- users

#[tokio::test]
async fn users_are_validated_added_listed_and_found() {
    let env = Env::new().await;
    let users = LocalUsers::new(env.store.clone(), env.clock.clone());

    // (name, email, phone, accepted)
    let cases: &[(&str, &str, Option<&str>, bool)] = &[
        ("demo", "demo@example.com", None, true),
        (
            "a.b_c-9",
            "x.y+tag@mail.example.org",
            Some("+1 (555) 010-0123"),
            true,
        ),
        ("", "e@example.com", None, false),
        ("Demo", "e@example.com", None, false),
        ("has space", "e@example.com", None, false),
        ("pipe|x", "e@example.com", None, false),
        (&"x".repeat(33), "e@example.com", None, false),
        ("nomail", "not-an-email", None, false),
        ("nomail", "a@b", None, false),
        ("nomail", "a b@example.com", None, false),
        ("nomail", "@example.com", None, false),
        ("nomail", "a@-bad.com", None, false),
        ("nophone", "p@example.com", Some("5550100"), false),
        ("nophone", "p@example.com", Some("+0123456"), false),
        ("nophone", "p@example.com", Some("+12"), false),
        ("nophone", "p@example.com", Some("+1234567890123456"), false),
        ("nophone", "p@example.com", Some("+1555abc"), false),
        ("blankphone", "bp@example.com", Some("  "), true),
    ];
    for (name, mail, phone, ok) in cases {
        let result = users.add(name, mail, *phone).await;
        assert_eq!(
            result.is_ok(),
            *ok,
            "{name:?} {mail:?} {phone:?}: {result:?}"
        );
    }

    let added = users.find("a.b_c-9").await.unwrap().unwrap();
    assert_eq!(added.id.as_str(), "local|a.b_c-9");
    assert_eq!(added.phone.as_deref(), Some("+15550100123"));
    assert_eq!(added.created_at, Timestamp::from_unix_millis(T0));
    assert_eq!(users.find("blankphone").await.unwrap().unwrap().phone, None);

    // Name, email (any case) and id all find the user.
    for who in ["demo", "DEMO@example.com", "local|demo"] {
        let found = users.find(who).await.unwrap();
        assert_eq!(found.map(|u| u.name), Some("demo".to_owned()), "{who}");
    }
    for who in ["nobody", "", "local|nobody"] {
        assert!(users.find(who).await.unwrap().is_none(), "{who}");
    }

    // Taken names and emails.
    assert!(matches!(
        users.add("demo", "other@example.com", None).await,
        Err(UserError::Taken)
    ));
    assert!(matches!(
        users.add("other", "Demo@Example.com", None).await,
        Err(UserError::Taken)
    ));

    let names: Vec<String> = users
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["a.b_c-9", "blankphone", "demo"]);
}

#[tokio::test]
async fn the_directory_reads_contact_points_from_the_user_store() {
    let env = Env::new().await;
    let users = LocalUsers::new(env.store.clone(), env.clock.clone());
    users
        .add("demo", "demo@example.com", Some("+15550100123"))
        .await
        .unwrap();
    users.add("mail", "mail@example.com", None).await.unwrap();
    let directory = LocalDirectory::new(env.store.clone());

    let demo = directory.contact_points(&cid("local|demo")).await.unwrap();
    assert_eq!(demo.email.as_deref(), Some("demo@example.com"));
    assert_eq!(demo.phone.as_deref(), Some("+15550100123"));
    assert_eq!(
        demo.preferred_destination().unwrap().channel(),
        Channel::Sms
    );
    let mail = directory.contact_points(&cid("local|mail")).await.unwrap();
    assert_eq!(
        mail.preferred_destination().unwrap().channel(),
        Channel::Email
    );

    let dest = email("demo@example.com");
    directory
        .ensure_passwordless_identity(&cid("local|demo"), &dest)
        .await
        .unwrap();
    assert_eq!(
        directory.contact_points(&cid("local|ghost")).await,
        Err(DirectoryError::UnknownCustomer)
    );
    assert_eq!(
        directory
            .ensure_passwordless_identity(&cid("local|ghost"), &dest)
            .await,
        Err(DirectoryError::UnknownCustomer)
    );
}

// ---------------------------------------------------------------- tokens

fn key(byte: u8) -> LocalTokenKey {
    LocalTokenKey::from_bytes(&[byte; 32]).unwrap()
}

fn b64(json: &str) -> String {
    URL_SAFE_NO_PAD.encode(json)
}

/// A token with the given header and claims, HMAC-SHA256-signed with `secret`.
fn hand_made(header: &str, claims: &str, secret: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let sig = aws_lc_rs::hmac::sign(&k, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

#[tokio::test]
async fn tokens_round_trip_and_reject_everything_else() {
    let clock = ManualClock::starting_at(Timestamp::from_unix_millis(T0));
    let tokens = LocalAccessTokens::new(&key(1), LocalTokenConfig::default(), clock.clone());
    let now = clock.now();
    let demo = cid("local|demo");

    let good = tokens.issue(&demo, Duration::from_secs(3600), now);
    assert_eq!(tokens.customer_for_token(&good).await.unwrap(), demo);

    let secs = now.unix_seconds();
    let claims = |iss: &str, aud: &str, exp: i64| {
        format!(r#"{{"iss":"{iss}","aud":"{aud}","sub":"local|demo","exp":{exp}}}"#)
    };
    let hs = r#"{"alg":"HS256","typ":"JWT"}"#;
    let valid_claims = claims("pod-local", "pod", secs + 600);
    // Sanity: the hand-made token verifies when nothing is wrong with it.
    let hand_ok = hand_made(hs, &valid_claims, &[1; 32]);
    assert_eq!(tokens.customer_for_token(&hand_ok).await.unwrap(), demo);

    let other_aud = LocalAccessTokens::new(
        &key(1),
        LocalTokenConfig {
            audience: "elsewhere".into(),
            ..LocalTokenConfig::default()
        },
        clock.clone(),
    );
    let unsigned = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&valid_claims)
    );

    let rejected: Vec<(&str, String)> = vec![
        (
            "expired",
            tokens.issue(
                &demo,
                Duration::from_secs(60),
                now.minus(Duration::from_secs(3600)),
            ),
        ),
        (
            "expired by hand",
            hand_made(hs, &claims("pod-local", "pod", secs - 120), &[1; 32]),
        ),
        (
            "wrong issuer",
            hand_made(hs, &claims("someone-else", "pod", secs + 600), &[1; 32]),
        ),
        (
            "wrong audience",
            other_aud.issue(&demo, Duration::from_secs(600), now),
        ),
        ("alg none", unsigned),
        (
            "alg none, no dot",
            format!("{}.{}", b64(r#"{"alg":"none"}"#), b64(&valid_claims)),
        ),
        (
            "another key",
            LocalAccessTokens::new(&key(2), LocalTokenConfig::default(), clock.clone()).issue(
                &demo,
                Duration::from_secs(600),
                now,
            ),
        ),
        (
            "RS256 header, HMAC signature",
            hand_made(r#"{"alg":"RS256","typ":"JWT"}"#, &valid_claims, &[1; 32]),
        ),
        (
            "HS512 header",
            hand_made(r#"{"alg":"HS512","typ":"JWT"}"#, &valid_claims, &[1; 32]),
        ),
        (
            "no exp",
            hand_made(
                hs,
                r#"{"iss":"pod-local","aud":"pod","sub":"local|demo"}"#,
                &[1; 32],
            ),
        ),
        (
            "no sub",
            hand_made(
                hs,
                &format!(r#"{{"iss":"pod-local","aud":"pod","exp":{}}}"#, secs + 600),
                &[1; 32],
            ),
        ),
        (
            "bad sub",
            hand_made(
                hs,
                &format!(
                    r#"{{"iss":"pod-local","aud":"pod","sub":"","exp":{}}}"#,
                    secs + 600
                ),
                &[1; 32],
            ),
        ),
        (
            "not yet valid",
            hand_made(
                hs,
                &format!(
                    r#"{{"iss":"pod-local","aud":"pod","sub":"local|demo","exp":{},"nbf":{}}}"#,
                    secs + 6000,
                    secs + 3000
                ),
                &[1; 32],
            ),
        ),
        ("empty", String::new()),
        ("garbage", "garbage".into()),
        ("three dots", "a.b.c".into()),
        ("dots", "....".into()),
        ("tampered", format!("{}x", &good[..good.len() - 1])),
        ("huge", "A".repeat(100_000)),
        ("non-ascii", "é.é.é".into()),
    ];
    for (what, token) in rejected {
        match tokens.customer_for_token(&token).await {
            Err(TokenError::Invalid(reason)) => {
                assert!(
                    !reason.contains(&token) || token.is_empty(),
                    "{what}: reason leaks the token"
                );
            }
            other => panic!("{what}: expected Invalid, got {other:?}"),
        }
    }

    // Within the leeway an expired token still passes; past it, not.
    let short = tokens.issue(&demo, Duration::from_secs(60), now);
    clock.advance(Duration::from_secs(60 + 10));
    assert!(tokens.customer_for_token(&short).await.is_ok());
    clock.advance(Duration::from_secs(30));
    assert!(tokens.customer_for_token(&short).await.is_err());
}

#[test]
fn the_key_file_is_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token.key");
    let first = LocalTokenKey::load_or_create(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // No temporary files are left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let second = LocalTokenKey::load_or_create(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    // Same key: a token from the first verifies with the second.
    let clock = ManualClock::starting_at(Timestamp::from_unix_millis(T0));
    let a = LocalAccessTokens::new(&first, LocalTokenConfig::default(), clock.clone());
    let b = LocalAccessTokens::new(&second, LocalTokenConfig::default(), clock.clone());
    let token = a.issue(&cid("local|demo"), Duration::from_secs(60), clock.now());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(rt.block_on(b.customer_for_token(&token)).is_ok());

    // A different file gives a different key.
    let other = LocalTokenKey::load_or_create(&dir.path().join("other.key")).unwrap();
    let c = LocalAccessTokens::new(&other, LocalTokenConfig::default(), clock.clone());
    assert!(rt.block_on(c.customer_for_token(&token)).is_err());

    // Too short a key file is refused, not used.
    let short = dir.path().join("short.key");
    std::fs::write(&short, b"tiny").unwrap();
    assert!(matches!(
        LocalTokenKey::load_or_create(&short),
        Err(KeyError::BadLength { len: 4, .. })
    ));
    // A missing folder is an error, not a panic.
    assert!(LocalTokenKey::load_or_create(&dir.path().join("no/such/dir/key")).is_err());
    assert!(LocalTokenKey::from_bytes(&[0; 31]).is_none());
}

// ---------------------------------------------------------------- codes

#[tokio::test]
async fn a_delivered_code_is_in_the_outbox_and_matches_only_its_digest() {
    let env = Env::new().await;
    let codes = env.codes();
    let demo = cid("local|demo");
    let dest = email("demo@example.com");
    let purpose = order("o-1");

    let issued = codes.issue(&demo, &purpose);
    let digest = issued.digest.clone().expect("pod keeps a digest");
    assert!(!format!("{issued:?}").contains(issued.code.as_ref().unwrap().expose()));
    codes
        .deliver(&demo, &dest, &purpose, &issued)
        .await
        .unwrap();
    let entries = env.outbox(None, None);
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry.to, "demo@example.com");
    assert_eq!(entry.channel, "email");
    assert_eq!(entry.customer, "local|demo");
    assert_eq!(entry.purpose, "order");
    assert_eq!(entry.order_id.as_deref(), Some("o-1"));
    assert_eq!(entry.at, "2025-01-02T03:04:05.678Z");
    assert_eq!(entry.expires_at, "2025-01-02T03:09:05.678Z");
    assert_eq!(entry.note, None);
    assert_eq!(entry.code.len(), 4);

    let code = env.last_code();
    let check = async |spoken: OneTimeCode, digest: Option<CodeDigest>| {
        check_code(&codes, &demo, &dest, &purpose, digest, &spoken).await
    };
    assert_eq!(
        check(code.clone(), Some(digest.clone())).await,
        CodeCheck::Valid
    );
    assert_eq!(check(wrong(&code), Some(digest)).await, CodeCheck::Invalid);
    // No digest kept (nothing issued): nothing matches.
    assert_eq!(check(code, None).await, CodeCheck::Invalid);
}

#[tokio::test]
async fn a_code_for_one_purpose_or_customer_does_not_match_another() {
    let env = Env::new().await;
    let codes = env.codes_drawn_by(Arc::new(FixedCodes("4321")));
    let demo = cid("local|demo");
    let other = cid("local|other");
    let dest = email("demo@example.com");
    let code = OneTimeCode::parse("4321").unwrap();

    // An order code does not sign in, nor confirm another order, nor
    // another customer's order.
    let digest = codes.issue(&demo, &order("o-1")).digest;
    let checks = [
        (&demo, order("o-1"), CodeCheck::Valid),
        (&demo, CodePurpose::SignIn, CodeCheck::Invalid),
        (&demo, order("o-2"), CodeCheck::Invalid),
        (&other, order("o-1"), CodeCheck::Invalid),
    ];
    for (who, purpose, want) in checks {
        assert_eq!(
            check_code(&codes, who, &dest, &purpose, digest.clone(), &code).await,
            want,
            "{who} {purpose:?}"
        );
    }
}

#[tokio::test]
async fn the_digest_is_keyed_and_differs_per_customer() {
    let env = Env::new().await;
    let codes = env.codes_drawn_by(Arc::new(FixedCodes("98765432")));
    let (a, b) = (cid("local|a"), cid("local|b"));
    let da = codes.issue(&a, &CodePurpose::SignIn).digest.unwrap();
    let db = codes.issue(&b, &CodePurpose::SignIn).digest.unwrap();
    assert_eq!(da.as_bytes().len(), 32);
    assert_ne!(da, db);
    assert_eq!(format!("{da:?}"), "CodeDigest(****)");
    for digest in [&da, &db] {
        let lossy = String::from_utf8_lossy(digest.as_bytes());
        let hex: String = digest
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // (Deterministic: fixed key, customer and code.)
        assert!(!hex.contains("98765432"));
        for digits in ["98765432", "9876", "5432"] {
            assert!(!lossy.contains(digits));
        }
    }
    // The same inputs give the same digest; another key another one.
    assert_eq!(codes.issue(&a, &CodePurpose::SignIn).digest.unwrap(), da);
    let mut config = env.config();
    config.hash_key = CodeHashKey::new(&[8u8; 32]);
    let other = LocalCodes::new(
        Arc::new(FixedCodes("98765432")),
        env.clock.clone(),
        Duration::from_secs(300),
        vec![],
        config,
    )
    .unwrap();
    assert_ne!(other.issue(&a, &CodePurpose::SignIn).digest.unwrap(), da);
    // The derived key is stable and never shown.
    let k = key(3);
    assert_eq!(
        format!("{:?}", k.derive_code_hash_key()),
        "CodeHashKey(****)"
    );
}

#[tokio::test]
async fn failed_delivery_is_reported() {
    let env = Env::new().await;
    let demo = cid("local|demo");
    let broken: Vec<Arc<dyn CodeDelivery>> = vec![Arc::new(Broken)];
    // A delivery that fails, and no delivery for the channel at all.
    for (deliveries, destination) in [
        (broken, email("demo@example.com")),
        (vec![], Destination::sms("+15550100123")),
    ] {
        let codes = env.codes_with(Arc::new(OsCodeGenerator), deliveries);
        let issued = codes.issue(&demo, &CodePurpose::SignIn);
        let result = codes
            .deliver(&demo, &destination, &CodePurpose::SignIn, &issued)
            .await;
        assert!(
            matches!(result, Err(CodeError::DeliveryFailed(_))),
            "{destination:?}: {result:?}"
        );
    }
    assert!(env.outbox(None, None).is_empty());
}

#[test]
fn bad_code_settings_are_refused() {
    let base = || LocalCodesConfig {
        code_digits: 4,
        hash_key: CodeHashKey::new(&[1; 32]),
    };
    for digits in [0, 3, 9] {
        let config = LocalCodesConfig {
            code_digits: digits,
            ..base()
        };
        let r = LocalCodes::new(
            Arc::new(OsCodeGenerator),
            ManualClock::starting_at(Timestamp::EPOCH),
            Duration::from_secs(300),
            vec![],
            config.clone(),
        );
        assert!(r.is_err(), "{config:?}");
    }
    let from_policy =
        LocalCodesConfig::from_policy(&Default::default(), CodeHashKey::new(&[1; 32]));
    assert_eq!(from_policy.code_digits, 4);
}

// ---------------------------------------------------------------- generator

proptest::proptest! {
    #[test]
    fn generated_codes_have_the_right_length_and_only_digits(digits in 4u32..=8) {
        let code = OsCodeGenerator.generate(digits);
        proptest::prop_assert_eq!(code.expose().len(), digits as usize);
        proptest::prop_assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
    }
}

#[test]
fn generated_codes_are_roughly_uniform() {
    // 50 000 four-digit codes; chi-square of the last two digits (100
    // cells, 99 degrees of freedom; the 1e-9 quantile is about 200) and of
    // the first digit (10 cells, 9 degrees; the 1e-9 quantile is about 55).
    const DRAWS: usize = 50_000;
    let mut low = [0u32; 100];
    let mut high = [0u32; 10];
    for _ in 0..DRAWS {
        let n: usize = OsCodeGenerator.generate(4).expose().parse().unwrap();
        low[n % 100] += 1;
        high[n / 1000] += 1;
    }
    let chi = |cells: &[u32]| {
        let expected = DRAWS as f64 / cells.len() as f64;
        cells
            .iter()
            .map(|&o| (o as f64 - expected).powi(2) / expected)
            .sum::<f64>()
    };
    let (c_low, c_high) = (chi(&low), chi(&high));
    assert!(c_low < 220.0, "last two digits: chi-square {c_low}");
    assert!(c_high < 60.0, "first digit: chi-square {c_high}");
    // And not suspiciously perfect either (a counter would give ~0).
    assert!(c_low > 20.0, "last two digits too even: {c_low}");
}

#[test]
fn system_clock_and_order_ids() {
    let now = SystemClock.now();
    assert!(now.unix_seconds() > 1_700_000_000);
    let a = UuidOrderIds.new_order_id();
    let b = UuidOrderIds.new_order_id();
    assert_ne!(a, b);
    assert_eq!(a.as_str().len(), 36);
}

// ---------------------------------------------------------------- outbox

#[tokio::test]
async fn sms_codes_go_to_the_outbox_with_a_note() {
    let env = Env::new().await;
    let codes = env.codes();
    let demo = cid("local|demo");
    let dest = Destination::sms("+15550100123");
    let issued = send(&codes, &demo, &dest, &order("o-1")).await.unwrap();
    let entry = env.outbox(None, None).pop().unwrap();
    assert_eq!(entry.channel, "sms");
    assert_eq!(entry.to, "+15550100123");
    assert!(entry.note.unwrap().contains("no SMS gateway"));
    let code = OneTimeCode::parse(&entry.code).unwrap();
    assert_eq!(
        check_code(&codes, &demo, &dest, &order("o-1"), issued.digest, &code).await,
        CodeCheck::Valid
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.outbox_path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[tokio::test]
async fn the_outbox_reads_by_user_and_last_n() {
    let env = Env::new().await;
    let codes = env.codes();
    let people = [
        ("local|ann", "ann@example.com"),
        ("local|bob", "bob@example.com"),
        ("local|ann", "ann@example.com"),
        ("local|cy", "cy@example.com"),
        ("local|ann", "ann@example.com"),
    ];
    for (i, (who, mail)) in people.iter().enumerate() {
        let purpose = order(&format!("o-{i}"));
        send(&codes, &cid(who), &email(mail), &purpose)
            .await
            .unwrap();
    }
    // A line that is not an entry is skipped.
    let mut raw = std::fs::read_to_string(env.outbox_path()).unwrap();
    raw.push_str("not json\n\n");
    std::fs::write(env.outbox_path(), raw).unwrap();

    let ids = |entries: Vec<OutboxEntry>| -> Vec<String> {
        entries.into_iter().map(|e| e.order_id.unwrap()).collect()
    };
    // (who, last, expected order ids, oldest first)
    let cases: &[(Option<&str>, Option<usize>, &[&str])] = &[
        (None, None, &["o-0", "o-1", "o-2", "o-3", "o-4"]),
        (None, Some(2), &["o-3", "o-4"]),
        (None, Some(0), &[]),
        (None, Some(99), &["o-0", "o-1", "o-2", "o-3", "o-4"]),
        (Some("ann"), None, &["o-0", "o-2", "o-4"]),
        (Some("local|ann"), Some(2), &["o-2", "o-4"]),
        (Some("ANN@example.com"), Some(1), &["o-4"]),
        (Some("bob"), Some(5), &["o-1"]),
        (Some("nobody"), None, &[]),
    ];
    for (who, last, want) in cases {
        assert_eq!(ids(env.outbox(*who, *last)), *want, "{who:?} {last:?}");
    }
    // A missing outbox reads as empty.
    assert!(
        Outbox::read(&env.dir.path().join("none.jsonl"), None, None)
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------- smtp

#[tokio::test]
async fn email_codes_are_sent_over_smtp() {
    let env = Env::new().await;
    let (port, server) = fake_smtp().await;
    let mut config = SmtpConfig::new(format!("smtp://127.0.0.1:{port}"), "pod <pod@example.com>");
    config.timeout = Duration::from_secs(5);
    let smtp = SmtpDelivery::new(&config).unwrap();
    assert!(smtp.handles(Channel::Email) && !smtp.handles(Channel::Sms));
    let codes = env.codes_with(
        Arc::new(OsCodeGenerator),
        vec![
            Arc::new(Outbox::in_data_dir(env.dir.path())),
            Arc::new(smtp),
        ],
    );
    let demo = cid("local|demo");
    let dest = email("demo@example.com");
    let issued = send(&codes, &demo, &dest, &order("o-1")).await.unwrap();
    let code = env.last_code();

    let data = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
    assert!(
        data.contains(&format!("Your pod code is {}", code.expose())),
        "{data}"
    );
    assert!(data.contains("To: demo@example.com"), "{data}");
    assert!(data.contains("Subject: Your pod code"), "{data}");
    assert_eq!(
        check_code(&codes, &demo, &dest, &order("o-1"), issued.digest, &code).await,
        CodeCheck::Valid
    );
}

#[tokio::test]
async fn an_unreachable_smtp_server_fails_delivery() {
    let env = Env::new().await;
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let mut config = SmtpConfig::new(format!("smtp://127.0.0.1:{port}"), "pod@example.com");
    config.timeout = Duration::from_secs(5);
    let codes = env.codes_with(
        Arc::new(OsCodeGenerator),
        vec![Arc::new(SmtpDelivery::new(&config).unwrap())],
    );
    let demo = cid("local|demo");
    let result = send(
        &codes,
        &demo,
        &email("demo@example.com"),
        &CodePurpose::SignIn,
    )
    .await;
    assert!(
        matches!(result, Err(CodeError::DeliveryFailed(_))),
        "{result:?}"
    );
}

#[test]
fn smtp_settings_are_checked_without_leaking_the_password() {
    let bad_url = SmtpDelivery::new(&SmtpConfig::new(
        "http://user:hunter2@host",
        "pod@example.com",
    ));
    let err = bad_url.unwrap_err().to_string();
    assert!(!err.contains("hunter2"), "{err}");
    assert!(
        SmtpDelivery::new(&SmtpConfig::new("smtp://localhost:2525", "not an address")).is_err()
    );
    let config = SmtpConfig::new("smtps://user:hunter2@host:465", "pod@example.com");
    assert!(!format!("{config:?}").contains("hunter2"));
}

// ---------------------------------------------------------------- no panics on input

proptest::proptest! {
    #[test]
    fn arbitrary_tokens_are_rejected_without_panicking(token in "\\PC{0,300}", parts in "[A-Za-z0-9_=-]{0,40}(\\.[A-Za-z0-9_=-]{0,40}){0,4}") {
        let tokens = LocalAccessTokens::new(&key(1), LocalTokenConfig::default(), ManualClock::starting_at(Timestamp::from_unix_millis(T0)));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for t in [token, parts] {
            let result = rt.block_on(tokens.customer_for_token(&t));
            proptest::prop_assert!(matches!(result, Err(TokenError::Invalid(_))));
        }
    }

    #[test]
    fn user_fields_are_checked_without_panicking(name in "\\PC{0,40}", mail in "\\PC{0,40}", phone in "\\PC{0,20}") {
        if validate_name(&name).is_ok() {
            proptest::prop_assert!(name.len() <= 32 && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b)));
            proptest::prop_assert!(local_customer_id(&name).is_ok());
        }
        if let Ok(mail) = validate_email(&mail) {
            proptest::prop_assert_eq!(mail.matches('@').count(), 1);
        }
        if let Ok(phone) = normalize_phone(&phone) {
            proptest::prop_assert!(phone.starts_with('+') && phone[1..].bytes().all(|b| b.is_ascii_digit()));
        }
    }
}

/// Account linking: a token issued under a grant names it, works while the
/// grant is active and stops the moment it is revoked; `pod token` tokens
/// (no grant) are unaffected.
#[tokio::test]
async fn grant_tokens_work_only_while_their_grant_is_active() {
    use pod_ports::oauth::{AuthorizationCode, Grant, GrantId, NewGrant};
    use pod_ports::testing::MemoryStore;
    use pod_ports::{GrantTokens, OAuthStore};

    let clock = ManualClock::starting_at(Timestamp::from_unix_millis(T0));
    let key = LocalTokenKey::from_bytes(&[9; 32]).unwrap();
    let tokens = Arc::new(LocalAccessTokens::new(
        &key,
        LocalTokenConfig::default(),
        clock.clone(),
    ));
    let store = Arc::new(MemoryStore::new());
    let ann = CustomerId::parse("local|ann").unwrap();
    let grant = GrantId::parse("g1").unwrap();
    let now = clock.now();
    store
        .save_code(&AuthorizationCode {
            digest: vec![1; 32],
            client_id: "alexa".into(),
            customer: ann.clone(),
            redirect_uri: "https://a.example/cb".into(),
            scope: "order".into(),
            code_challenge: None,
            created_at: now,
            expires_at: now.plus(Duration::from_secs(60)),
        })
        .await
        .unwrap();
    let new = NewGrant {
        grant: Grant {
            id: grant.clone(),
            client_id: "alexa".into(),
            customer: ann.clone(),
            scope: "order".into(),
            created_at: now,
            revoked_at: None,
        },
        refresh_digest: vec![2; 32],
    };
    store.consume_code(&[1; 32], Some(&new), now).await.unwrap();
    let checked = GrantCheckedTokens::new(tokens.clone(), store.clone());
    let linked = GrantTokens::issue(
        tokens.as_ref(),
        &ann,
        &grant,
        Duration::from_secs(3600),
        now,
    );
    let plain = tokens.issue(&ann, Duration::from_secs(3600), now);
    assert_eq!(tokens.grant_of(&linked), Some(grant.clone()));
    assert_eq!(tokens.grant_of(&plain), None);
    assert_eq!(tokens.grant_of("not a token"), None);
    assert_eq!(checked.customer_for_token(&linked).await.unwrap(), ann);
    // The plain verifier accepts it too (it knows nothing of grants).
    assert_eq!(tokens.customer_for_token(&linked).await.unwrap(), ann);
    store
        .revoke_grants(None, None, Some(&grant), now)
        .await
        .unwrap();
    assert!(matches!(
        checked.customer_for_token(&linked).await,
        Err(TokenError::Invalid(_))
    ));
    assert_eq!(checked.customer_for_token(&plain).await.unwrap(), ann);
}
