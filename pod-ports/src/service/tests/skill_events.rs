//! Skill events: links recorded and forgotten, the pending order cancelled
//! when the skill is disabled.

use super::*;
use crate::{AlexaLinks, AlexaUserId, Disabled, LinkOutcome, MockAlexaLinks, SkillEvents};

fn alexa() -> AlexaUserId {
    AlexaUserId::parse("amzn1.ask.account.DEMO").unwrap()
}

fn events_over(h: &Harness, links: Option<Arc<dyn AlexaLinks>>) -> SkillEvents {
    SkillEvents::new(h.service.clone(), links)
}

#[tokio::test]
async fn account_linked_records_the_tokens_customer_at_now() {
    let h = harness();
    let links = Arc::new(MemoryStore::new());
    let events = events_over(&h, Some(links.clone()));
    assert_eq!(
        events.account_linked(&alexa(), Some(TOKEN)).await.unwrap(),
        LinkOutcome::Linked(demo())
    );
    assert_eq!(links.customer_of(&alexa()).await.unwrap(), Some(demo()));
    assert_eq!(events.customer_of(&alexa()).await.unwrap(), Some(demo()));
    for token in [None, Some(""), Some("forged")] {
        assert_eq!(
            events.account_linked(&alexa(), token).await.unwrap(),
            LinkOutcome::InvalidToken
        );
    }
    assert!(matches!(
        events.account_linked(&alexa(), Some("down")).await,
        Err(ServiceError::IdentityUnavailable(_))
    ));
    assert_eq!(h.store.take(), RoundTrips::default(), "no account touched");
    // Without links nothing is recorded.
    assert_eq!(
        events_over(&h, None)
            .account_linked(&alexa(), Some(TOKEN))
            .await
            .unwrap(),
        LinkOutcome::NotKept
    );
}

#[tokio::test]
async fn the_link_is_stamped_with_the_service_clock() {
    let h = harness();
    let mut links = MockAlexaLinks::new();
    links
        .expect_link()
        .withf(|user, customer, at| user == &alexa() && customer == &demo() && *at == T0)
        .times(1)
        .returning(|_, _, _| Ok(()));
    let events = events_over(&h, Some(Arc::new(links)));
    events.account_linked(&alexa(), Some(TOKEN)).await.unwrap();
}

#[tokio::test]
async fn disabling_cancels_the_linked_customers_pending_order_and_forgets_the_link() {
    let h = harness();
    let links = Arc::new(MemoryStore::new());
    let events = events_over(&h, Some(links.clone()));
    events.account_linked(&alexa(), Some(TOKEN)).await.unwrap();
    let PlaceOutcome::Placed { order, .. } = h.order().await else {
        panic!("not placed")
    };
    h.store.take();
    // The event carries no token: the recorded link names the customer.
    let disabled = events.skill_disabled(Some(&alexa()), None).await.unwrap();
    assert_eq!(disabled.customer, Some(demo()));
    assert!(disabled.forgot_link);
    let cancelled = disabled.cancelled.unwrap();
    assert_eq!(cancelled.id(), order.id());
    assert!(matches!(
        cancelled.state(),
        OrderState::Cancelled {
            reason: CancelReason::CancelledByCustomer,
            ..
        }
    ));
    assert_eq!(h.store.take(), RoundTrips::ONE_LOAD_ONE_COMMIT);
    assert_eq!(links.customer_of(&alexa()).await.unwrap(), None);
    assert_eq!(h.confirm(RIGHT).await, ConfirmOutcome::NoPendingOrder);
    // Redelivered: nothing left to do.
    assert_eq!(
        events.skill_disabled(Some(&alexa()), None).await.unwrap(),
        Disabled::default()
    );
    assert_eq!(h.event_names(), ["placed", "cancelled"]);
}

#[tokio::test]
async fn without_a_recorded_link_the_events_token_names_the_customer() {
    let h = harness();
    h.order().await;
    let events = events_over(&h, Some(Arc::new(MemoryStore::new())));
    let disabled = events
        .skill_disabled(Some(&alexa()), Some(TOKEN))
        .await
        .unwrap();
    assert_eq!(disabled.customer, Some(demo()));
    assert!(!disabled.forgot_link);
    assert!(disabled.cancelled.is_some());

    // Neither a link nor a valid token: nothing is known, nothing touched.
    let h = harness();
    h.order().await;
    h.store.take();
    let events = events_over(&h, None);
    for token in [None, Some("forged")] {
        assert_eq!(
            events.skill_disabled(Some(&alexa()), token).await.unwrap(),
            Disabled::default()
        );
    }
    assert_eq!(
        events.skill_disabled(None, None).await.unwrap(),
        Disabled::default()
    );
    assert_eq!(h.store.take(), RoundTrips::default());
    assert!(
        h.account().await.pending().is_some(),
        "the order still waits"
    );
}

#[tokio::test]
async fn a_failing_link_store_is_an_error_and_cancels_nothing() {
    let h = harness();
    h.order().await;
    let mut links = MockAlexaLinks::new();
    links
        .expect_forget()
        .returning(|_| Err(StoreError::Unavailable("down".into())));
    let events = events_over(&h, Some(Arc::new(links)));
    assert!(matches!(
        events.skill_disabled(Some(&alexa()), Some(TOKEN)).await,
        Err(ServiceError::Storage(_))
    ));
    assert!(h.account().await.pending().is_some());
}
