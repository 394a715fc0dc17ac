use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::{OrderState, PizzaSize, Topping};

const T0: Timestamp = Timestamp::from_unix_seconds(1_700_000_000);

fn at(seconds: u64) -> Timestamp {
    T0.plus(Duration::from_secs(seconds))
}

fn demo() -> Account {
    Account::new(CustomerId::parse("local|demo").unwrap())
}

fn pizza() -> Pizza {
    Pizza::new(PizzaSize::Large, [Topping::Pepperoni]).unwrap()
}

fn id(n: u32) -> OrderId {
    OrderId::parse(format!("o{n}")).unwrap()
}

fn digest() -> Option<CodeDigest> {
    Some(CodeDigest::new(vec![7; 32]))
}

fn place(account: &Account, n: u32, now: Timestamp, policy: &ConfirmationPolicy) -> Account {
    account
        .place_order(
            id(n),
            pizza(),
            &Destination::sms("+15550100"),
            digest(),
            now,
            policy,
        )
        .unwrap()
        .change
        .account()
        .clone()
}

fn check(account: &Account, code: CodeCheck, now: Timestamp) -> (Account, ConfirmResult) {
    check_under(account, code, now, &ConfirmationPolicy::default())
}

fn check_under(
    account: &Account,
    code: CodeCheck,
    now: Timestamp,
    policy: &ConfirmationPolicy,
) -> (Account, ConfirmResult) {
    let pending = account.pending().unwrap().id().clone();
    let (change, result) = account
        .apply_order_check(&pending, code, now, policy)
        .unwrap();
    (change.unwrap().account().clone(), result)
}

#[test]
fn a_new_order_supersedes_the_pending_one_in_the_same_change() {
    let policy = ConfirmationPolicy::default();
    let first = place(&demo(), 1, at(0), &policy);
    assert_eq!(first.version(), 1);
    let placed = first
        .place_order(
            id(2),
            pizza(),
            &Destination::email("a@b.c"),
            None,
            at(5),
            &policy,
        )
        .unwrap();
    let superseded = placed.superseded.unwrap();
    assert_eq!(superseded.id(), &id(1));
    assert!(matches!(
        superseded.state(),
        OrderState::Cancelled {
            reason: CancelReason::Superseded,
            ..
        }
    ));
    let change = placed.change;
    assert_eq!(change.expected_version(), 1);
    assert_eq!(change.account().pending().unwrap().id(), &id(2));
    assert_eq!(
        change.account().order_digest(),
        None,
        "the new code's digest replaces the old"
    );
    assert_eq!(change.orders().len(), 2);
    let names: Vec<_> = change.events().iter().map(|e| e.name()).collect();
    assert_eq!(names, ["cancelled", "placed"]);
}

#[test]
fn order_and_sign_in_codes_have_separate_budgets() {
    let policy = ConfirmationPolicy::default();
    let mut account = demo();
    for n in 0..5 {
        account = place(&account, n, at(u64::from(n)), &policy);
    }
    assert_eq!(
        account.may_send_order_code(at(10), &policy),
        Err(SendRefusal::RateLimited)
    );
    assert!(account.may_send_sign_in_code(at(10), &policy).is_ok());
    // An hour after the first send, one order code is free again.
    assert!(account.may_send_order_code(at(3600), &policy).is_ok());
    for n in 0..5 {
        account = account
            .start_sign_in(None, at(20 + n), &policy)
            .unwrap()
            .account()
            .clone();
    }
    assert_eq!(
        account.start_sign_in(None, at(30), &policy),
        Err(SendRefusal::RateLimited)
    );
    assert_eq!(account.order_sends().sent_in_window(at(30)), 5);
}

#[test]
fn the_lock_engages_at_exactly_the_tenth_wrong_code_across_orders_and_sign_in() {
    let policy = ConfirmationPolicy::default();
    let mut account = demo();
    let mut failures = 0;
    // Three orders of three wrong codes each: 9 failures, the last of each
    // order cancelling it (and counted).
    for n in 0..3 {
        account = place(&account, n, at(1), &policy);
        for _ in 0..3 {
            let (next, result) = check(&account, CodeCheck::Invalid, at(2));
            failures += 1;
            assert_ne!(result, ConfirmResult::Locked, "failure {failures}");
            account = next;
        }
        assert_eq!(account.pending(), None);
    }
    assert_eq!(account.lockout().consecutive_failures, 9);
    // The tenth comes from the web sign-in.
    let change = account.start_sign_in(None, at(3), &policy).unwrap();
    account = change.account().clone();
    let issued = account.sign_in_code().unwrap().issued_at;
    let (change, result) = account
        .apply_sign_in_check(issued, CodeCheck::Invalid, at(4), &policy)
        .unwrap();
    assert_eq!(result, SignInResult::Locked);
    account = change.unwrap().account().clone();
    assert!(account.is_locked(at(4), &policy));
    assert_eq!(
        account.may_send_order_code(at(4), &policy),
        Err(SendRefusal::Locked)
    );
    assert_eq!(
        account.may_send_sign_in_code(at(4), &policy),
        Err(SendRefusal::Locked)
    );
}

#[test]
fn the_wrong_code_that_engages_the_lock_cancels_the_pending_order() {
    let policy = ConfirmationPolicy::default().with_lockout_after(2).unwrap();
    let account = place(&demo(), 1, at(0), &policy);
    let pending = account.pending().unwrap().id().clone();
    let (change, result) = account
        .apply_order_check(&pending, CodeCheck::Invalid, at(1), &policy)
        .unwrap();
    let account = change.unwrap().account().clone();
    assert!(matches!(
        result,
        ConfirmResult::WrongCode {
            attempts_left: 2,
            ..
        }
    ));
    let (change, result) = account
        .apply_order_check(&pending, CodeCheck::Invalid, at(2), &policy)
        .unwrap();
    assert_eq!(result, ConfirmResult::Locked);
    let change = change.unwrap();
    assert_eq!(change.account().pending(), None);
    assert!(matches!(
        change.orders()[0].state(),
        OrderState::Cancelled {
            reason: CancelReason::TooManyAttempts,
            ..
        }
    ));
    // While locked nothing is compared.
    assert_eq!(
        change.account().order_code_step(at(3), &policy),
        OrderCodeStep::Settled {
            change: None,
            result: ConfirmResult::Locked
        }
    );
}

#[test]
fn the_lock_lifts_after_the_cool_down_but_the_next_failure_locks_again() {
    let policy = ConfirmationPolicy::default().with_lockout_after(1).unwrap();
    let cooldown = policy.lockout_cooldown().as_secs();
    let account = place(&demo(), 1, at(0), &policy);
    let (account, result) = check_under(&account, CodeCheck::Invalid, at(1), &policy);
    assert_eq!(result, ConfirmResult::Locked);
    assert!(account.is_locked(at(cooldown), &policy));
    assert!(!account.is_locked(at(1 + cooldown), &policy));
    let account = place(&account, 2, at(1 + cooldown), &policy);
    let (account, result) = check_under(&account, CodeCheck::Invalid, at(2 + cooldown), &policy);
    assert_eq!(result, ConfirmResult::Locked);
    assert!(account.is_locked(at(3 + cooldown), &policy));
    // A right code after the next cool-down ends the run.
    let later = 3 + 2 * cooldown;
    let account = place(&account, 3, at(later), &policy);
    let (account, result) = check_under(&account, CodeCheck::Valid, at(later + 1), &policy);
    assert!(matches!(result, ConfirmResult::Confirmed(_)));
    assert_eq!(account.lockout(), Lockout::default());
}

#[test]
fn at_the_nist_ceiling_the_lock_never_lifts_by_itself() {
    let policy = ConfirmationPolicy::default();
    let lockout = Lockout {
        consecutive_failures: ConfirmationPolicy::PERMANENT_LOCK_AFTER,
        locked_at: Some(at(0)),
    };
    assert!(lockout.is_locked(at(10 * 365 * 24 * 3600), &policy));
    let account = Account { lockout, ..demo() };
    let unlocked = account.unlock().unwrap();
    assert!(!unlocked.account().is_locked(at(1), &policy));
    assert_eq!(unlocked.account().unlock(), None, "nothing left to lift");
}

#[test]
fn a_comparison_for_a_replaced_order_is_stale() {
    let policy = ConfirmationPolicy::default();
    let first = place(&demo(), 1, at(0), &policy);
    let second = place(&first, 2, at(1), &policy);
    assert_eq!(
        second.apply_order_check(&id(1), CodeCheck::Valid, at(2), &policy),
        Err(Stale { order: id(1) })
    );
}

#[test]
fn an_undelivered_code_cancels_its_order_but_still_counts_as_sent() {
    let policy = ConfirmationPolicy::default();
    let account = place(&demo(), 1, at(0), &policy);
    let change = account.order_code_not_delivered(&id(1), at(1)).unwrap();
    assert_eq!(change.account().pending(), None);
    assert_eq!(change.account().order_sends().sent_in_window(at(1)), 1);
    assert!(matches!(
        change.orders()[0].state(),
        OrderState::Cancelled {
            reason: CancelReason::CodeDeliveryFailed,
            ..
        }
    ));
    assert_eq!(account.order_code_not_delivered(&id(9), at(1)), None);
}

#[test]
fn the_customer_cancels_the_pending_order_and_its_code_confirms_nothing() {
    let policy = ConfirmationPolicy::default().with_lockout_after(2).unwrap();
    assert_eq!(demo().cancel_pending(at(0)), None, "nothing to cancel");
    let placed = place(&demo(), 1, at(0), &policy);
    let (placed, _) = check_under(&placed, CodeCheck::Invalid, at(1), &policy);
    let change = placed.cancel_pending(at(2)).unwrap();
    assert_eq!(change.expected_version(), placed.version());
    let account = change.account();
    assert_eq!(account.pending(), None);
    assert_eq!(account.order_digest(), None, "the code's digest is gone");
    assert_eq!(
        account.lockout(),
        placed.lockout(),
        "the run of failures stays"
    );
    assert_eq!(
        account.order_sends(),
        placed.order_sends(),
        "the send still counts"
    );
    assert!(matches!(
        change.orders()[0].state(),
        OrderState::Cancelled {
            reason: CancelReason::CancelledByCustomer,
            ..
        }
    ));
    let names: Vec<_> = change.events().iter().map(|e| e.name()).collect();
    assert_eq!(names, ["cancelled"]);
    assert_eq!(
        account.order_code_step(at(3), &policy),
        OrderCodeStep::Settled {
            change: None,
            result: ConfirmResult::NoPendingOrder
        }
    );
    assert_eq!(
        account.apply_order_check(&id(1), CodeCheck::Valid, at(3), &policy),
        Err(Stale { order: id(1) }),
        "a comparison made before the cancel is stale"
    );
    assert_eq!(account.cancel_pending(at(4)), None);
}

#[test]
fn sign_in_codes_expire_and_run_out_of_attempts() {
    let policy = ConfirmationPolicy::default();
    let account = demo()
        .start_sign_in(digest(), at(0), &policy)
        .unwrap()
        .account()
        .clone();
    let issued = account.sign_in_code().unwrap().issued_at;
    match account.sign_in_step(at(300), &policy) {
        SignInStep::Settled { change, result } => {
            assert_eq!(result, SignInResult::Expired);
            assert_eq!(change.unwrap().account().sign_in_code(), None);
        }
        other => panic!("{other:?}"),
    }
    let mut account = account;
    for expected in [
        SignInResult::WrongCode,
        SignInResult::WrongCode,
        SignInResult::TooManyAttempts,
    ] {
        let (change, result) = account
            .apply_sign_in_check(issued, CodeCheck::Invalid, at(1), &policy)
            .unwrap();
        assert_eq!(result, expected);
        account = change.unwrap().account().clone();
    }
    assert_eq!(account.sign_in_code(), None);
    assert_eq!(
        account.apply_sign_in_check(issued, CodeCheck::Valid, at(2), &policy),
        None,
        "a spent code is gone"
    );
}

#[test]
fn restore_refuses_a_pending_order_that_is_not_pending_or_not_ours() {
    let policy = ConfirmationPolicy::default();
    let account = place(&demo(), 1, at(0), &policy);
    let (confirmed, _) = check(&account, CodeCheck::Valid, at(1));
    assert_eq!(confirmed.pending(), None);
    let order = account.pending().unwrap().clone();
    let record = |customer: &str, pending: Order| AccountRecord {
        customer: CustomerId::parse(customer).unwrap(),
        version: 1,
        pending: Some(pending),
        order_digest: None,
        sign_in: None,
        order_sends: SendLog::default(),
        sign_in_sends: SendLog::default(),
        lockout: Lockout::default(),
    };
    assert!(Account::restore(record("local|demo", order.clone())).is_ok());
    assert!(Account::restore(record("local|other", order.clone())).is_err());
    let settled = order.cancel(CancelReason::Expired, at(2)).unwrap().0;
    assert!(Account::restore(record("local|demo", settled)).is_err());
}

// ---------------------------------------------------------------------------
// Random sequences of everything an account can go through.

#[derive(Debug, Clone)]
enum Op {
    Place,
    OrderCode(CodeCheck),
    StartSignIn,
    SignInCode(CodeCheck),
    Unlock,
    Cancel,
    Wait(u64),
}

fn any_op() -> impl Strategy<Value = Op> {
    let check = prop_oneof![
        1 => Just(CodeCheck::Valid),
        5 => Just(CodeCheck::Invalid),
        1 => Just(CodeCheck::Expired),
        1 => Just(CodeCheck::Locked),
    ];
    prop_oneof![
        3 => Just(Op::Place),
        6 => check.clone().prop_map(Op::OrderCode),
        2 => Just(Op::StartSignIn),
        3 => check.prop_map(Op::SignInCode),
        1 => Just(Op::Unlock),
        1 => Just(Op::Cancel),
        2 => (1u64..4000).prop_map(Op::Wait),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_rule_holds_after_every_step(
        lockout_after in 1u32..=12,
        attempts in 1u32..=4,
        budget in 1u32..=6,
        ops in proptest::collection::vec(any_op(), 1..80),
    ) {
        let policy = ConfirmationPolicy::default()
            .with_lockout_after(lockout_after).unwrap()
            .with_max_failed_attempts(attempts).unwrap()
            .with_max_codes_per_hour(budget).unwrap()
            .with_max_sign_in_codes_per_hour(budget).unwrap();
        let mut account = demo();
        let mut now = at(0);
        let mut next_id = 0;
        // The model: consecutive failures counted independently of the code.
        let mut failures = 0u32;
        let mut order_sends: Vec<Timestamp> = Vec::new();
        let mut sign_in_sends: Vec<Timestamp> = Vec::new();
        for op in ops {
            let before = account.clone();
            let locked_before = before.is_locked(now, &policy);
            let change: Option<Change> = match op {
                Op::Wait(secs) => { now = now.plus(Duration::from_secs(secs)); None }
                Op::Place => {
                    next_id += 1;
                    match before.place_order(id(next_id), pizza(), &Destination::email("a@b.c"), digest(), now, &policy) {
                        Ok(placed) => {
                            prop_assert!(!locked_before, "no order code is sent while locked");
                            order_sends.push(now);
                            Some(placed.change)
                        }
                        Err(SendRefusal::Locked) => { prop_assert!(locked_before); None }
                        Err(SendRefusal::RateLimited) => {
                            let in_window = order_sends.iter().filter(|t| **t > now.minus(ConfirmationPolicy::SEND_WINDOW)).count();
                            prop_assert_eq!(in_window as u32, budget);
                            None
                        }
                    }
                }
                Op::OrderCode(code) => match before.order_code_step(now, &policy) {
                    OrderCodeStep::Settled { change, result } => {
                        prop_assert!(!matches!(result, ConfirmResult::Confirmed(_)));
                        if locked_before { prop_assert_eq!(result, ConfirmResult::Locked); }
                        change
                    }
                    OrderCodeStep::Compare { order, .. } => {
                        prop_assert!(!locked_before, "nothing is compared while locked");
                        let (change, result) = before.apply_order_check(order.id(), code, now, &policy).unwrap();
                        if matches!(code, CodeCheck::Invalid | CodeCheck::Locked) { failures += 1; }
                        if code == CodeCheck::Valid { failures = 0; }
                        if let ConfirmResult::Confirmed(confirmed) = &result {
                            prop_assert_eq!(code, CodeCheck::Valid);
                            prop_assert!(now < order.awaiting().unwrap().expires_at(), "confirmed only before expiry");
                            prop_assert_eq!(confirmed.id(), order.id(), "only by its own code");
                        }
                        change
                    }
                },
                Op::StartSignIn => match before.start_sign_in(digest(), now, &policy) {
                    Ok(change) => { sign_in_sends.push(now); Some(change) }
                    Err(SendRefusal::Locked) => { prop_assert!(locked_before); None }
                    Err(SendRefusal::RateLimited) => None,
                },
                Op::SignInCode(code) => match before.sign_in_step(now, &policy) {
                    SignInStep::Settled { change, .. } => change,
                    SignInStep::Compare { code: issued } => {
                        prop_assert!(!locked_before);
                        let (change, result) = before.apply_sign_in_check(issued.issued_at, code, now, &policy).unwrap();
                        match code {
                            CodeCheck::Invalid | CodeCheck::Locked => failures += 1,
                            CodeCheck::Valid => {
                                failures = 0;
                                let signed_in = matches!(result, SignInResult::SignedIn { .. });
                                prop_assert!(signed_in);
                            }
                            CodeCheck::Expired => {}
                        }
                        change
                    }
                },
                Op::Unlock => { failures = 0; before.unlock() }
                Op::Cancel => {
                    let change = before.cancel_pending(now);
                    prop_assert_eq!(change.is_some(), before.pending().is_some(), "only a pending order is cancelled");
                    if let Some(change) = &change {
                        prop_assert!(change.account().pending().is_none());
                        prop_assert_eq!(change.account().lockout(), before.lockout(), "a cancel counts no failure");
                        let cancelled = &change.orders()[0];
                        prop_assert_eq!(Some(cancelled.id()), before.pending().map(Order::id));
                        let by_customer = matches!(cancelled.state(), OrderState::Cancelled { reason: CancelReason::CancelledByCustomer, .. });
                        prop_assert!(by_customer);
                    }
                    change
                }
            };
            if let Some(change) = change {
                prop_assert_eq!(change.expected_version(), before.version(), "one version step per change");
                account = change.account().clone();
            }
            prop_assert_eq!(account.lockout().consecutive_failures, failures, "every wrong code counts, on every surface");
            if failures >= lockout_after && account.lockout().locked_at == Some(now) {
                prop_assert!(account.is_locked(now, &policy), "the lock engages exactly at its limit");
            }
            if failures < lockout_after {
                prop_assert!(!account.is_locked(now, &policy), "and not before");
            }
            prop_assert!(account.order_sends().sent_in_window(now) <= budget);
            prop_assert!(account.sign_in_sends().sent_in_window(now) <= budget);
            if let Some(pending) = account.pending() {
                let waiting = pending.awaiting().expect("the pending order awaits its code");
                prop_assert!(waiting.failed_attempts() < attempts);
            }
            if let Some(code) = account.sign_in_code() {
                prop_assert!(code.failed_attempts < attempts);
            }
        }
    }
}
