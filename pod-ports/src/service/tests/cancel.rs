//! Cancelling the pending order: one read, one commit, nothing sent.

use super::*;
use crate::{CancelOutcome, MockAccountStore};

#[tokio::test]
async fn a_cancel_is_one_read_one_commit_and_the_code_confirms_nothing_after() {
    let h = harness();
    let PlaceOutcome::Placed { order, .. } = h.order().await else {
        panic!("not placed")
    };
    h.store.take();
    let CancelOutcome::Cancelled(cancelled) = h.service.cancel_pending(Some(TOKEN)).await.unwrap()
    else {
        panic!("not cancelled")
    };
    assert_eq!(cancelled.id(), order.id());
    assert!(matches!(
        cancelled.state(),
        OrderState::Cancelled {
            reason: CancelReason::CancelledByCustomer,
            ..
        }
    ));
    assert_eq!(h.store.take(), RoundTrips::ONE_LOAD_ONE_COMMIT);
    assert_eq!(h.event_names(), ["placed", "cancelled"]);
    assert_eq!(
        h.codes.delivered.lock().unwrap().len(),
        1,
        "nothing more sent"
    );
    assert_eq!(
        h.codes.comparisons.load(Ordering::SeqCst),
        0,
        "nothing compared"
    );
    assert_eq!(h.account().await.pending(), None);
    // The code it was sent confirms nothing.
    assert_eq!(h.confirm(RIGHT).await, ConfirmOutcome::NoPendingOrder);
}

#[tokio::test]
async fn with_nothing_pending_a_cancel_reads_once_and_writes_nothing() {
    let h = harness();
    assert_eq!(
        h.service.cancel_pending(Some(TOKEN)).await.unwrap(),
        CancelOutcome::NoPendingOrder
    );
    assert_eq!(
        h.store.take(),
        RoundTrips {
            loads: 1,
            ..RoundTrips::default()
        }
    );
    for token in [None, Some(""), Some("forged")] {
        assert_eq!(
            h.service.cancel_pending(token).await.unwrap(),
            CancelOutcome::NotLinked
        );
    }
    assert_eq!(h.store.take(), RoundTrips::default(), "nothing was read");
    assert!(h.event_names().is_empty());
}

#[tokio::test]
async fn a_cancel_that_loses_a_race_decides_again_on_the_fresh_account() {
    // The first commit is refused as if a right code had confirmed the
    // order a moment before: the cancel then finds nothing to cancel.
    let memory = Arc::new(MemoryStore::new());
    let h = harness_with(
        memory.clone(),
        FakeCodes::default(),
        ConfirmationPolicy::default(),
    );
    h.order().await;
    let account = memory.load_account(&demo()).await.unwrap();
    let mut store = MockAccountStore::new();
    let mut loads = 0;
    let first = account.clone();
    let confirmed = {
        let pending = account.pending().unwrap().id().clone();
        let (change, _) = account
            .apply_order_check(
                &pending,
                CodeCheck::Valid,
                T0,
                &ConfirmationPolicy::default(),
            )
            .unwrap();
        change.unwrap().account().clone()
    };
    store.expect_load_account().times(2).returning(move |_| {
        loads += 1;
        Ok(if loads == 1 {
            first.clone()
        } else {
            confirmed.clone()
        })
    });
    store
        .expect_commit()
        .times(1)
        .returning(|_| Err(StoreError::Conflict));
    let h = harness_with(
        Arc::new(store),
        FakeCodes::default(),
        ConfirmationPolicy::default(),
    );
    assert_eq!(
        h.service.cancel_pending_for(&demo()).await.unwrap(),
        CancelOutcome::NoPendingOrder
    );
    assert!(h.event_names().is_empty(), "nothing was cancelled");
}

#[tokio::test]
async fn a_store_failure_is_an_error() {
    let mut store = MockAccountStore::new();
    store
        .expect_load_account()
        .returning(|_| Err(StoreError::Unavailable("down".into())));
    let h = harness_with(
        Arc::new(store),
        FakeCodes::default(),
        ConfirmationPolicy::default(),
    );
    assert!(matches!(
        h.service.cancel_pending_for(&demo()).await,
        Err(ServiceError::Storage(_))
    ));
}
