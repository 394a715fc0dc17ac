//! The contract every [`AccountStore`] keeps, as functions over a fresh
//! store. [`account_store_contract!`](crate::account_store_contract) turns
//! them into one `#[tokio::test]` each for an adapter's test binary.

use std::sync::Arc;
use std::time::Duration;

use pod_domain::{
    Account, Change, CodeCheck, CodeDigest, ConfirmationPolicy, CustomerId, Destination, OrderId,
    OrderState, Pizza, PizzaSize, Timestamp, Topping,
};
use tokio::sync::Barrier;

use crate::{AccountStore, StoreError};

/// Generates one `#[tokio::test]` per contract check, each on a fresh store
/// from `$make` (an async fn returning `(Arc<dyn AccountStore>, guard)`,
/// where the guard keeps whatever the store needs alive, a temporary folder
/// for example).
#[macro_export]
macro_rules! account_store_contract {
    ($make:path) => {
        $crate::account_store_contract!(@tests $make;
            unknown_customers_have_a_new_account,
            a_committed_account_reads_back_equal,
            a_stale_commit_is_refused_and_writes_nothing,
            of_two_commits_from_one_version_exactly_one_applies,
            superseding_writes_both_orders_in_one_step,
            orders_list_newest_first_and_clear_only_confirmed,
            concurrent_commits_to_many_accounts_all_apply,
        );
    };
    (@tests $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (store, _guard) = $make().await;
                $crate::testing::contract::$name(store).await;
            }
        )*
    };
}

const T0: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

fn at(seconds: u64) -> Timestamp {
    T0.plus(Duration::from_secs(seconds))
}

fn customer(n: usize) -> CustomerId {
    CustomerId::parse(format!("local|user{n}")).unwrap()
}

fn pizza() -> Pizza {
    Pizza::new(PizzaSize::Large, [Topping::Pepperoni, Topping::Mushrooms]).unwrap()
}

fn id(name: &str) -> OrderId {
    OrderId::parse(name).unwrap()
}

fn policy() -> ConfirmationPolicy {
    // Room for every order the checks place.
    ConfirmationPolicy::default()
        .with_max_codes_per_hour(100)
        .unwrap()
}

fn placed(account: &Account, order: &str, now: Timestamp) -> pod_domain::Placed {
    account
        .place_order(
            id(order),
            pizza(),
            &Destination::sms("+15550100"),
            Some(CodeDigest::new(vec![0xab; 32])),
            now,
            &policy(),
        )
        .unwrap()
}

/// Commits `change`; the account as the store reads it back after that.
async fn committed(store: &dyn AccountStore, change: &Change) -> Account {
    store.commit(change).await.unwrap();
    store
        .load_account(change.account().customer())
        .await
        .unwrap()
}

/// A customer never seen has a new, empty account at version 0.
pub async fn unknown_customers_have_a_new_account(store: Arc<dyn AccountStore>) {
    let account = store.load_account(&customer(1)).await.unwrap();
    assert_eq!(account, Account::new(customer(1)));
    assert_eq!(store.order(&id("none")).await.unwrap(), None);
    assert!(store.orders_of(&customer(1)).await.unwrap().is_empty());
    store.ping().await.unwrap();
}

/// Every part of an account survives the round trip: the pending order
/// with its digest, the send logs, the sign-in code, the lock.
pub async fn a_committed_account_reads_back_equal(store: Arc<dyn AccountStore>) {
    let fresh = store.load_account(&customer(1)).await.unwrap();
    let first = placed(&fresh, "o1", at(0));
    let account = committed(&*store, &first.change).await;
    assert_eq!(&account, first.change.account());

    // A wrong code (counted), then a sign-in code with a wrong attempt.
    let (change, _) = account
        .apply_order_check(&id("o1"), CodeCheck::Invalid, at(1), &policy())
        .unwrap();
    let change = change.unwrap();
    let account = committed(&*store, &change).await;
    let change = account
        .start_sign_in(Some(CodeDigest::new(vec![1, 2, 3])), at(2), &policy())
        .unwrap();
    let account = committed(&*store, &change).await;
    let issued = account.sign_in_code().unwrap().issued_at;
    let (change, _) = account
        .apply_sign_in_check(issued, CodeCheck::Invalid, at(3), &policy())
        .unwrap();
    let change = change.unwrap();
    let account = committed(&*store, &change).await;
    assert_eq!(&account, change.account());
    assert_eq!(account.version(), 4);
    assert_eq!(account.lockout().consecutive_failures, 2);
    assert_eq!(account.sign_in_code().unwrap().failed_attempts, 1);
    assert_eq!(
        account
            .pending()
            .unwrap()
            .awaiting()
            .unwrap()
            .failed_attempts(),
        1
    );
    assert_eq!(account.order_sends().times(), [at(0)]);
    assert_eq!(account.sign_in_sends().times(), [at(2)]);
    assert_eq!(
        store.order(&id("o1")).await.unwrap().as_ref(),
        account.pending()
    );
}

/// A commit whose expected version is not the stored one is refused and
/// leaves the account and its orders as they were.
pub async fn a_stale_commit_is_refused_and_writes_nothing(store: Arc<dyn AccountStore>) {
    let fresh = store.load_account(&customer(1)).await.unwrap();
    let first = placed(&fresh, "o1", at(0));
    store.commit(&first.change).await.unwrap();
    // The same change again: its expected version (0) is stale now.
    assert!(matches!(
        store.commit(&first.change).await,
        Err(StoreError::Conflict)
    ));
    // A change built on the stale account, with a new order.
    let late = placed(&fresh, "o2", at(1));
    assert!(matches!(
        store.commit(&late.change).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.order(&id("o2")).await.unwrap(),
        None,
        "no order written"
    );
    let account = store.load_account(&customer(1)).await.unwrap();
    assert_eq!(&account, first.change.account());
}

/// Two changes decided on the same version, committed at once: exactly one
/// applies, whatever the interleaving.
pub async fn of_two_commits_from_one_version_exactly_one_applies(store: Arc<dyn AccountStore>) {
    let fresh = store.load_account(&customer(1)).await.unwrap();
    committed(&*store, &placed(&fresh, "o1", at(0)).change).await;
    for round in 0..20u64 {
        let account = store.load_account(&customer(1)).await.unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let mut tasks = Vec::new();
        for n in 0..2 {
            let store = store.clone();
            let barrier = barrier.clone();
            let change = placed(&account, &format!("r{round}n{n}"), at(round + 1)).change;
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store.commit(&change).await
            }));
        }
        let mut applied = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => applied += 1,
                Err(StoreError::Conflict) => {}
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(applied, 1, "round {round}");
        let after = store.load_account(&customer(1)).await.unwrap();
        assert_eq!(after.version(), account.version() + 1);
        let pending: Vec<_> = store
            .orders_of(&customer(1))
            .await
            .unwrap()
            .into_iter()
            .filter(|o| o.awaiting().is_some())
            .collect();
        assert_eq!(pending.len(), 1, "one pending order");
        assert_eq!(Some(&pending[0]), after.pending());
    }
}

/// Placing over a pending order writes the cancelled old order and the new
/// one in the same step.
pub async fn superseding_writes_both_orders_in_one_step(store: Arc<dyn AccountStore>) {
    let fresh = store.load_account(&customer(1)).await.unwrap();
    let account = committed(&*store, &placed(&fresh, "o1", at(0)).change).await;
    let account = committed(&*store, &placed(&account, "o2", at(5)).change).await;
    let old = store.order(&id("o1")).await.unwrap().unwrap();
    assert!(matches!(old.state(), OrderState::Cancelled { .. }));
    assert_eq!(account.pending().map(|o| o.id().as_str()), Some("o2"));
}

/// Orders list newest first; clearing removes confirmed orders only.
pub async fn orders_list_newest_first_and_clear_only_confirmed(store: Arc<dyn AccountStore>) {
    let mut account = store.load_account(&customer(1)).await.unwrap();
    for (n, name) in ["o1", "o2", "o3"].into_iter().enumerate() {
        account = committed(&*store, &placed(&account, name, at(n as u64 * 10)).change).await;
    }
    let (change, _) = account
        .apply_order_check(&id("o3"), CodeCheck::Valid, at(25), &policy())
        .unwrap();
    store.commit(&change.unwrap()).await.unwrap();
    // Another customer's confirmed order stays.
    let other = store.load_account(&customer(2)).await.unwrap();
    let other = committed(&*store, &placed(&other, "x1", at(0)).change).await;
    let (change, _) = other
        .apply_order_check(&id("x1"), CodeCheck::Valid, at(1), &policy())
        .unwrap();
    store.commit(&change.unwrap()).await.unwrap();

    let names: Vec<String> = store
        .orders_of(&customer(1))
        .await
        .unwrap()
        .iter()
        .map(|o| o.id().to_string())
        .collect();
    assert_eq!(names, ["o3", "o2", "o1"]);
    assert_eq!(store.clear_confirmed(&customer(1)).await.unwrap(), 1);
    assert_eq!(store.orders_of(&customer(1)).await.unwrap().len(), 2);
    assert_eq!(store.orders_of(&customer(2)).await.unwrap().len(), 1);
}

/// Many accounts committed at once (one group commit, in a store that
/// batches) all apply, each exactly once, and conflicting commits among
/// them do not disturb the others.
pub async fn concurrent_commits_to_many_accounts_all_apply(store: Arc<dyn AccountStore>) {
    const ACCOUNTS: usize = 48;
    let shared = store.load_account(&customer(0)).await.unwrap();
    let barrier = Arc::new(Barrier::new(ACCOUNTS + 8));
    let mut tasks = Vec::new();
    for n in 1..=ACCOUNTS {
        let store = store.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let account = store.load_account(&customer(n)).await.unwrap();
            let change = placed(&account, &format!("c{n}"), at(1)).change;
            barrier.wait().await;
            store.commit(&change).await.map(|()| false)
        }));
    }
    for n in 0..8 {
        let store = store.clone();
        let barrier = barrier.clone();
        let change = placed(&shared, &format!("s{n}"), at(1)).change;
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.commit(&change).await.map(|()| true)
        }));
    }
    let mut shared_applied = 0;
    let mut others_applied = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(true) => shared_applied += 1,
            Ok(false) => others_applied += 1,
            Err(StoreError::Conflict) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(others_applied, ACCOUNTS);
    assert_eq!(shared_applied, 1);
    for n in 1..=ACCOUNTS {
        let account = store.load_account(&customer(n)).await.unwrap();
        assert_eq!(account.version(), 1);
        assert_eq!(
            account.pending().map(|o| o.id().to_string()),
            Some(format!("c{n}"))
        );
    }
}
