//! The real `OrderingService` over the Auth0 adapters and the fake tenant:
//! what one order and one confirmation cost upstream and in the store.

use std::sync::Arc;

use async_trait::async_trait;
use pod_adapters_auth0::Auth0Adapters;
use pod_adapters_auth0::fake::{FakeAlgorithm, FakeAuth0, FakeUser};
use pod_domain::{ConfirmationPolicy, CustomerId, OrderEvent, Pizza, PizzaSize};
use pod_ports::testing::{CountingStore, MemoryStore, RoundTrips, SequentialIds};
use pod_ports::{
    ConfirmOutcome, OneTimeCode, OrderEvents, OrderingService, PlaceOutcome, Ports, SystemClock,
};

struct NoWatchers;

#[async_trait]
impl OrderEvents for NoWatchers {
    async fn publish(&self, _: OrderEvent) {}
}

#[tokio::test]
async fn a_warm_order_and_its_confirmation_cost_one_upstream_call_one_read_and_one_commit_each() {
    let fake = FakeAuth0::start().await;
    fake.add_user(FakeUser::new("auth0|alice").with_phone("+15550199"));
    let adapters =
        Auth0Adapters::new(fake.config(FakeAlgorithm::Hs256, FakeAlgorithm::Hs256)).unwrap();
    let store = Arc::new(CountingStore::new(MemoryStore::new()));
    let service = OrderingService::new(
        Ports {
            tokens: adapters.access_tokens.clone(),
            directory: adapters.directory.clone(),
            codes: adapters.codes.clone(),
            store: store.clone(),
            events: Arc::new(NoWatchers),
            clock: Arc::new(SystemClock),
            ids: Arc::new(SequentialIds::default()),
        },
        ConfirmationPolicy::default(),
    );
    let alice = CustomerId::parse("auth0|alice").unwrap();
    let pizza = || Pizza::new(PizzaSize::Large, []).unwrap();
    let confirm = async || {
        let code = OneTimeCode::parse(&fake.last_code("+15550199").unwrap()).unwrap();
        service.confirm_order_for(&alice, &code).await.unwrap()
    };

    // Cold: the management token, the profile, the passwordless identity.
    assert!(matches!(
        service.place_order_for(&alice, pizza()).await.unwrap(),
        PlaceOutcome::Placed { .. }
    ));
    assert!(matches!(confirm().await, ConfirmOutcome::Confirmed(_)));

    // Warm: `/passwordless/start`, then the OTP grant, and nothing else.
    store.take();
    let before = fake.request_count().await;
    assert!(matches!(
        service.place_order_for(&alice, pizza()).await.unwrap(),
        PlaceOutcome::Placed { .. }
    ));
    assert_eq!(fake.request_count().await - before, 1, "warm order");
    let one_each = RoundTrips::ONE_LOAD_ONE_COMMIT;
    assert_eq!(store.take(), one_each, "warm order");
    let before = fake.request_count().await;
    assert!(matches!(confirm().await, ConfirmOutcome::Confirmed(_)));
    assert_eq!(fake.request_count().await - before, 1, "warm confirmation");
    assert_eq!(store.take(), one_each, "warm confirmation");
}
