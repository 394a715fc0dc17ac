//! The sign-in service against `mockall` mocks of its ports.

use std::time::Duration;

use pod_domain::{ContactPoints, CustomerLockout, Timestamp};

use super::*;
use crate::{
    LocalUser, MockClock, MockCustomerDirectory, MockOneTimeCodes, MockOrderStore, MockUserStore,
    StoreError,
};

const T0: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

fn demo() -> CustomerId {
    CustomerId::parse("local|demo").unwrap()
}

fn user() -> LocalUser {
    LocalUser {
        id: demo(),
        name: "demo".into(),
        email: "demo@example.com".into(),
        phone: None,
        created_at: T0,
    }
}

fn code() -> OneTimeCode {
    OneTimeCode::parse("1234").unwrap()
}

struct Mocks {
    users: MockUserStore,
    directory: MockCustomerDirectory,
    codes: MockOneTimeCodes,
    store: MockOrderStore,
    clock: MockClock,
}

impl Mocks {
    fn new() -> Self {
        let mut m = Mocks {
            users: MockUserStore::new(),
            directory: MockCustomerDirectory::new(),
            codes: MockOneTimeCodes::new(),
            store: MockOrderStore::new(),
            clock: MockClock::new(),
        };
        m.clock.expect_now().returning(|| T0);
        m.directory.expect_contact_points().returning(|_| {
            Ok(ContactPoints {
                email: Some("demo@example.com".into()),
                phone: None,
            })
        });
        m
    }

    fn known_user(mut self) -> Self {
        self.users
            .expect_user_by_login()
            .withf(|login| login == "demo" || login == "DEMO@example.com")
            .returning(|_| Ok(Some(user())));
        self
    }

    fn sent_recently(mut self, sent: u32) -> Self {
        self.store
            .expect_codes_sent_since()
            .withf(|_, since| *since == T0.minus(Duration::from_secs(3600)))
            .returning(move |_, _| Ok(sent));
        self
    }

    fn service(self) -> SignInService {
        SignInService::new(Arc::new(self.store), ConfirmationPolicy::default()).with_passwordless(
            Passwordless {
                users: Arc::new(self.users),
                directory: Arc::new(self.directory),
                codes: Arc::new(self.codes),
                clock: Arc::new(self.clock),
            },
        )
    }
}

#[tokio::test]
async fn a_known_login_gets_a_sign_in_code_and_the_send_is_counted() {
    let mut m = Mocks::new().known_user().sent_recently(0);
    m.store
        .expect_record_code_sent()
        .withf(|c, at| *c == demo() && *at == T0)
        .times(1)
        .returning(|_, _| Ok(()));
    m.codes
        .expect_send_code()
        .withf(|c, d, p| {
            *c == demo() && d.address() == "demo@example.com" && *p == CodePurpose::SignIn
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let outcome = m.service().start("  demo ").await.unwrap();
    assert_eq!(
        outcome,
        StartOutcome::CodeSent {
            customer: demo(),
            channel: Channel::Email
        }
    );
}

#[tokio::test]
async fn unknown_and_unusable_logins_send_nothing() {
    let mut m = Mocks::new();
    m.users.expect_user_by_login().returning(|_| Ok(None));
    let service = m.service();
    let long = "a".repeat(300);
    for login in ["nobody", "", "   ", "a\u{0}b", long.as_str()] {
        assert_eq!(
            service.start(login).await.unwrap(),
            StartOutcome::UnknownLogin,
            "{login:?}"
        );
    }
}

#[tokio::test]
async fn the_send_rate_of_the_voice_flow_applies() {
    let policy = ConfirmationPolicy::default();
    let m = Mocks::new()
        .known_user()
        .sent_recently(policy.max_codes_per_hour());
    // No expectation on send_code or record_code_sent: calling them fails.
    assert_eq!(
        m.service().start("demo").await.unwrap(),
        StartOutcome::RateLimited { customer: demo() }
    );
}

#[tokio::test]
async fn delivery_failures_are_errors() {
    let mut m = Mocks::new().known_user().sent_recently(0);
    m.store.expect_record_code_sent().returning(|_, _| Ok(()));
    m.codes
        .expect_send_code()
        .returning(|_, _, _| Err(CodeError::DeliveryFailed("smtp down".into())));
    assert!(matches!(
        m.service().start("demo").await,
        Err(ServiceError::CodeDelivery(_))
    ));
}

#[tokio::test]
async fn without_contact_points_nothing_is_sent() {
    let mut m = Mocks::new().known_user().sent_recently(0);
    m.directory = MockCustomerDirectory::new();
    m.directory
        .expect_contact_points()
        .returning(|_| Ok(ContactPoints::default()));
    assert_eq!(
        m.service().start("demo").await.unwrap(),
        StartOutcome::NoContactPoint
    );
}

#[tokio::test]
async fn code_checks_map_to_outcomes() {
    let cases = [
        (CodeCheck::Invalid, CodeOutcome::WrongCode),
        (CodeCheck::Expired, CodeOutcome::Expired),
        (CodeCheck::Locked, CodeOutcome::TooManyAttempts),
    ];
    for (check, expected) in cases {
        let mut m = Mocks::new();
        m.codes
            .expect_verify_code()
            .withf(|c, _, p, code| {
                *c == demo() && *p == CodePurpose::SignIn && code.expose() == "1234"
            })
            .returning(move |_, _, _, _| Ok(check));
        assert_eq!(
            m.service().verify(&demo(), &code()).await.unwrap(),
            expected
        );
    }
}

#[tokio::test]
async fn a_right_code_signs_in_and_unlocks_a_locked_account() {
    let policy = ConfirmationPolicy::default();
    for (failures, unlocked) in [(0, false), (3, false), (policy.lockout_after(), true)] {
        let mut m = Mocks::new();
        m.codes
            .expect_verify_code()
            .returning(|_, _, _, _| Ok(CodeCheck::Valid));
        m.store
            .expect_lockout()
            .returning(move |_| Ok(CustomerLockout::with_failures(failures)));
        m.store
            .expect_clear_lockout()
            .times(usize::from(failures > 0))
            .returning(|_| Ok(()));
        assert_eq!(
            m.service().verify(&demo(), &code()).await.unwrap(),
            CodeOutcome::SignedIn {
                customer: demo(),
                unlocked
            },
            "{failures} failures"
        );
    }
}

#[tokio::test]
async fn provider_failures_are_errors_and_store_failures_propagate() {
    let mut m = Mocks::new();
    m.codes
        .expect_verify_code()
        .returning(|_, _, _, _| Err(CodeError::Unavailable("down".into())));
    assert!(matches!(
        m.service().verify(&demo(), &code()).await,
        Err(ServiceError::IdentityUnavailable(_))
    ));

    let mut m = Mocks::new();
    m.store
        .expect_lockout()
        .returning(|_| Err(StoreError::Unavailable("gone".into())));
    assert!(matches!(
        m.service().signed_in(&demo()).await,
        Err(ServiceError::Storage(_))
    ));
}

#[tokio::test]
async fn without_passwordless_only_external_sign_ins_work() {
    let mut store = MockOrderStore::new();
    store
        .expect_lockout()
        .returning(|_| Ok(CustomerLockout::default()));
    let service = SignInService::new(Arc::new(store), ConfirmationPolicy::default());
    assert!(!service.has_passwordless());
    assert!(service.start("demo").await.is_err());
    assert!(service.verify(&demo(), &code()).await.is_err());
    assert!(!service.signed_in(&demo()).await.unwrap());
}
