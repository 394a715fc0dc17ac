//! The sign-in service against the in-memory store, a `mockall` user store
//! and the fake code provider of the service tests.

use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;

use super::*;
use crate::service::tests::{FakeCodes, LoadTogether, RIGHT, T0, WRONG, code, demo, directory};
use crate::testing::{ManualClock, MemoryStore};
use crate::{LocalUser, MockUserStore};

fn users() -> MockUserStore {
    let mut users = MockUserStore::new();
    users.expect_user_by_login().returning(|login| match login {
        "demo" | "DEMO@example.com" => Ok(Some(LocalUser {
            id: demo(),
            name: "demo".into(),
            email: "demo@example.com".into(),
            phone: None,
            created_at: T0,
        })),
        "broken" => Err(StoreError::Unavailable("disk".into())),
        _ => Ok(None),
    });
    users
}

struct Harness {
    sign_in: SignInService,
    store: Arc<dyn AccountStore>,
    codes: Arc<FakeCodes>,
    clock: Arc<ManualClock>,
}

fn harness_on(store: Arc<dyn AccountStore>) -> Harness {
    let codes = Arc::new(FakeCodes::default());
    let clock = ManualClock::starting_at(T0);
    let sign_in = SignInService::new(store.clone(), clock.clone(), ConfirmationPolicy::default())
        .with_passwordless(Passwordless {
            users: Arc::new(users()),
            directory: Arc::new(directory()),
            codes: codes.clone(),
        });
    Harness {
        sign_in,
        store,
        codes,
        clock,
    }
}

fn harness() -> Harness {
    harness_on(Arc::new(MemoryStore::new()))
}

impl Harness {
    async fn start(&self) -> StartOutcome {
        self.sign_in.start("demo", None).await.unwrap()
    }

    async fn enter(&self, digits: &str) -> CodeOutcome {
        self.sign_in.verify(&demo(), &code(digits)).await.unwrap()
    }

    async fn failures(&self) -> u32 {
        let account = self.store.load_account(&demo()).await.unwrap();
        account.lockout().consecutive_failures
    }

    fn sent(&self) -> usize {
        self.codes.delivered.lock().unwrap().len()
    }
}

#[tokio::test]
async fn a_known_login_gets_a_code_and_the_right_code_signs_in_once() {
    let h = harness();
    assert!(matches!(h.start().await, StartOutcome::CodeSent { .. }));
    assert_eq!(
        h.sign_in.start("DEMO@example.com", None).await.unwrap(),
        StartOutcome::CodeSent {
            customer: demo(),
            channel: Channel::Sms
        }
    );
    assert_eq!(h.sent(), 2);
    assert_eq!(
        h.enter(RIGHT).await,
        CodeOutcome::SignedIn {
            customer: demo(),
            unlocked: false
        }
    );
    assert_eq!(h.enter(RIGHT).await, CodeOutcome::WrongCode, "single use");
}

#[tokio::test]
async fn unknown_or_unusable_logins_send_nothing() {
    let h = harness();
    for login in ["nobody", "", " ", "a\nb", &"x".repeat(300)] {
        assert_eq!(
            h.sign_in.start(login, None).await.unwrap(),
            StartOutcome::UnknownLogin,
            "{login:?}"
        );
    }
    assert!(matches!(
        h.sign_in.start("broken", None).await,
        Err(ServiceError::Storage(_))
    ));
    assert_eq!(h.sent(), 0);
    let without = SignInService::new(
        h.store.clone(),
        h.clock.clone(),
        ConfirmationPolicy::default(),
    );
    assert!(!without.has_passwordless());
    assert!(without.start("demo", None).await.is_err());
}

#[tokio::test]
async fn sign_in_codes_spend_their_own_budget_not_the_order_budget() {
    let h = harness();
    for _ in 0..5 {
        assert!(matches!(h.start().await, StartOutcome::CodeSent { .. }));
    }
    assert_eq!(
        h.start().await,
        StartOutcome::RateLimited { customer: demo() }
    );
    let account = h.store.load_account(&demo()).await.unwrap();
    assert_eq!(account.sign_in_sends().times().len(), 5);
    assert!(
        account
            .may_send_order_code(h.clock.now(), &ConfirmationPolicy::default())
            .is_ok(),
        "voice ordering still has its codes"
    );
}

#[tokio::test]
async fn one_client_address_gets_twenty_starts_an_hour() {
    let h = harness();
    let here = IpAddr::from(Ipv4Addr::new(192, 0, 2, 7));
    let there = IpAddr::from(Ipv4Addr::new(198, 51, 100, 9));
    for _ in 0..MAX_STARTS_PER_CLIENT_PER_HOUR {
        let outcome = h.sign_in.start("nobody", Some(here)).await.unwrap();
        assert_eq!(outcome, StartOutcome::UnknownLogin);
    }
    assert_eq!(
        h.sign_in.start("demo", Some(here)).await.unwrap(),
        StartOutcome::ClientRateLimited
    );
    assert!(matches!(
        h.sign_in.start("demo", Some(there)).await.unwrap(),
        StartOutcome::CodeSent { .. }
    ));
    h.clock.advance(ConfirmationPolicy::SEND_WINDOW);
    assert!(matches!(
        h.sign_in.start("demo", Some(here)).await.unwrap(),
        StartOutcome::CodeSent { .. }
    ));
}

#[tokio::test]
async fn wrong_sign_in_codes_count_toward_the_account_lock() {
    let h = harness();
    let mut entered = 0;
    while entered < 9 {
        h.start().await;
        for _ in 0..3 {
            if entered < 9 {
                h.enter(WRONG).await;
                entered += 1;
            }
        }
    }
    assert_eq!(h.failures().await, 9);
    h.start().await;
    assert_eq!(h.enter(WRONG).await, CodeOutcome::Locked);
    // Locked: no code is sent and none compared, even the right one.
    let compared = h.codes.comparisons.load(Ordering::SeqCst);
    assert_eq!(h.start().await, StartOutcome::Locked { customer: demo() });
    assert_eq!(h.enter(RIGHT).await, CodeOutcome::Locked);
    assert_eq!(h.codes.comparisons.load(Ordering::SeqCst), compared);
    // A sign-in with another factor (OIDC) lifts the lock.
    assert!(h.sign_in.signed_in(&demo()).await.unwrap());
    assert_eq!(h.failures().await, 0);
    assert!(!h.sign_in.signed_in(&demo()).await.unwrap());
}

#[tokio::test]
async fn a_sign_in_code_runs_out_of_attempts_and_expires() {
    let h = harness();
    h.start().await;
    assert_eq!(h.enter(WRONG).await, CodeOutcome::WrongCode);
    assert_eq!(h.enter(WRONG).await, CodeOutcome::WrongCode);
    assert_eq!(h.enter(WRONG).await, CodeOutcome::TooManyAttempts);
    assert_eq!(
        h.enter(RIGHT).await,
        CodeOutcome::WrongCode,
        "the code is gone"
    );
    h.start().await;
    h.clock
        .advance(ConfirmationPolicy::default().code_lifetime());
    assert_eq!(h.enter(RIGHT).await, CodeOutcome::Expired);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_starts_at_once_send_exactly_the_budget() {
    let gate = Arc::new(LoadTogether::new(MemoryStore::new(), 50));
    let h = Arc::new(harness_on(gate));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let h = h.clone();
            tokio::spawn(async move { h.start().await })
        })
        .collect();
    let mut sent = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), StartOutcome::CodeSent { .. }) {
            sent += 1;
        }
    }
    assert_eq!(sent, 5);
    assert_eq!(h.sent(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_wrong_sign_in_codes_at_once_count_exactly_the_attempt_limit() {
    let gate = Arc::new(LoadTogether::new(MemoryStore::new(), 0));
    let h = Arc::new(harness_on(gate.clone()));
    h.start().await;
    gate.arm(10);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let h = h.clone();
            tokio::spawn(async move { h.enter(WRONG).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert_eq!(h.failures().await, 3, "{outcomes:?}");
    let spent = outcomes
        .iter()
        .filter(|o| **o == CodeOutcome::TooManyAttempts)
        .count();
    assert_eq!(spent, 1, "{outcomes:?}");
}
