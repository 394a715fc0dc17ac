//! The contract every [`AlexaLinks`] keeps, as functions over a fresh
//! store. [`alexa_links_contract!`](crate::alexa_links_contract) turns them
//! into one `#[tokio::test]` each for an adapter's test binary.

use std::sync::Arc;
use std::time::Duration;

use pod_domain::{CustomerId, Timestamp};

use crate::{AlexaLinks, AlexaUserId};

/// Generates one `#[tokio::test]` per contract check, each on a fresh store
/// from `$make` (an async fn returning `(Arc<dyn AlexaLinks>, guard)`).
#[macro_export]
macro_rules! alexa_links_contract {
    ($make:path) => {
        $crate::alexa_links_contract!(@tests $make;
            an_unknown_alexa_user_is_linked_to_nobody,
            a_link_reads_back_and_is_forgotten_once,
            a_newer_link_replaces_an_older_one_and_never_the_reverse,
            links_of_different_alexa_users_are_independent,
            concurrent_links_and_forgets_leave_one_consistent_answer,
        );
    };
    (@tests $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (links, _guard) = $make().await;
                $crate::testing::links_contract::$name(links).await;
            }
        )*
    };
}

const T0: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

fn at(seconds: u64) -> Timestamp {
    T0.plus(Duration::from_secs(seconds))
}

fn alexa(n: usize) -> AlexaUserId {
    AlexaUserId::parse(&format!("amzn1.ask.account.USER{n}")).unwrap()
}

fn customer(name: &str) -> CustomerId {
    CustomerId::parse(format!("local|{name}")).unwrap()
}

/// Nobody is linked until a link is recorded; forgetting nothing is fine.
pub async fn an_unknown_alexa_user_is_linked_to_nobody(links: Arc<dyn AlexaLinks>) {
    assert_eq!(links.customer_of(&alexa(1)).await.unwrap(), None);
    assert_eq!(links.forget(&alexa(1)).await.unwrap(), None);
}

/// A link reads back; forgetting returns its customer once, then nothing.
pub async fn a_link_reads_back_and_is_forgotten_once(links: Arc<dyn AlexaLinks>) {
    links
        .link(&alexa(1), &customer("ann"), at(0))
        .await
        .unwrap();
    // Alexa retries events: the same link again changes nothing.
    links
        .link(&alexa(1), &customer("ann"), at(0))
        .await
        .unwrap();
    assert_eq!(
        links.customer_of(&alexa(1)).await.unwrap(),
        Some(customer("ann"))
    );
    assert_eq!(
        links.forget(&alexa(1)).await.unwrap(),
        Some(customer("ann"))
    );
    assert_eq!(links.forget(&alexa(1)).await.unwrap(), None);
    assert_eq!(links.customer_of(&alexa(1)).await.unwrap(), None);
    // Linked again later (the skill enabled and linked anew).
    links
        .link(&alexa(1), &customer("ann"), at(10))
        .await
        .unwrap();
    assert_eq!(
        links.customer_of(&alexa(1)).await.unwrap(),
        Some(customer("ann"))
    );
}

/// An Alexa user relinked to another account: the newer link wins, and a
/// late delivery of the older event does not bring it back.
pub async fn a_newer_link_replaces_an_older_one_and_never_the_reverse(links: Arc<dyn AlexaLinks>) {
    links
        .link(&alexa(1), &customer("ann"), at(5))
        .await
        .unwrap();
    links
        .link(&alexa(1), &customer("bob"), at(9))
        .await
        .unwrap();
    assert_eq!(
        links.customer_of(&alexa(1)).await.unwrap(),
        Some(customer("bob"))
    );
    links
        .link(&alexa(1), &customer("ann"), at(7))
        .await
        .unwrap();
    assert_eq!(
        links.customer_of(&alexa(1)).await.unwrap(),
        Some(customer("bob")),
        "an older link never replaces a newer one"
    );
}

/// Several Alexa users (one person's, or a household's) may link to one
/// customer; forgetting one leaves the others.
pub async fn links_of_different_alexa_users_are_independent(links: Arc<dyn AlexaLinks>) {
    for n in 1..=3 {
        links
            .link(&alexa(n), &customer("ann"), at(0))
            .await
            .unwrap();
    }
    links
        .link(&alexa(4), &customer("bob"), at(0))
        .await
        .unwrap();
    assert_eq!(
        links.forget(&alexa(2)).await.unwrap(),
        Some(customer("ann"))
    );
    for (n, expected) in [
        (1, Some(customer("ann"))),
        (2, None),
        (3, Some(customer("ann"))),
        (4, Some(customer("bob"))),
    ] {
        assert_eq!(links.customer_of(&alexa(n)).await.unwrap(), expected, "{n}");
    }
}

/// Links and forgets of one Alexa user at once: each forget reports a
/// customer at most once per link, and the end state is one of the two.
pub async fn concurrent_links_and_forgets_leave_one_consistent_answer(links: Arc<dyn AlexaLinks>) {
    links
        .link(&alexa(1), &customer("ann"), at(0))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..8u64 {
        let links = links.clone();
        tasks.push(tokio::spawn(async move {
            links.forget(&alexa(1)).await.map(|c| (n, c))
        }));
    }
    let mut forgotten = 0;
    for task in tasks {
        if let (_, Some(who)) = task.await.unwrap().unwrap() {
            assert_eq!(who, customer("ann"));
            forgotten += 1;
        }
    }
    assert_eq!(forgotten, 1, "one link is forgotten once");
    assert_eq!(links.customer_of(&alexa(1)).await.unwrap(), None);
}
