//! The contract every [`OAuthStore`] keeps, as functions over a fresh
//! store. [`oauth_store_contract!`](crate::oauth_store_contract) turns them
//! into one `#[tokio::test]` each for an adapter's test binary.

use std::sync::Arc;
use std::time::Duration;

use pod_domain::{CustomerId, Timestamp};
use tokio::sync::Barrier;

use crate::StoreError;
use crate::oauth::{
    AuthorizationCode, Grant, GrantId, NewGrant, OAuthClient, OAuthStore, Redemption, Rotation,
};

/// Generates one `#[tokio::test]` per contract check, each on a fresh store
/// from `$make` (an async fn returning `(Arc<dyn OAuthStore>, guard)`).
#[macro_export]
macro_rules! oauth_store_contract {
    ($make:path) => {
        $crate::oauth_store_contract!(@tests $make;
            oauth_clients_round_trip_and_ids_are_unique,
            oauth_a_code_redeems_once_and_reuse_revokes_its_grant,
            oauth_a_burnt_code_redeems_nothing,
            oauth_two_concurrent_redemptions_of_one_code_give_exactly_one_grant,
            oauth_refresh_rotation_spends_the_old_token_and_reuse_revokes_the_family,
            oauth_two_concurrent_rotations_of_one_token_rotate_once,
            oauth_spent_refresh_tokens_are_forgotten_after_the_retention,
            oauth_revoking_grants_by_client_customer_and_id,
            oauth_removing_a_client_revokes_its_grants,
        );
    };
    (@tests $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (store, _guard) = $make().await;
                $crate::testing::oauth_contract::$name(store).await;
            }
        )*
    };
}

const T0: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

fn at(seconds: u64) -> Timestamp {
    T0.plus(Duration::from_secs(seconds))
}

fn ann() -> CustomerId {
    CustomerId::parse("local|ann").unwrap()
}

fn bob() -> CustomerId {
    CustomerId::parse("local|bob").unwrap()
}

fn client(id: &str) -> OAuthClient {
    OAuthClient {
        id: id.to_owned(),
        name: format!("{id} skill"),
        secret_digest: vec![7; 32],
        redirect_uris: vec![
            "https://pitangui.amazon.com/api/skill/link/X".to_owned(),
            "https://layla.amazon.com/api/skill/link/X".to_owned(),
        ],
        created_at: T0,
    }
}

fn code(n: u8, client: &str, customer: CustomerId) -> AuthorizationCode {
    AuthorizationCode {
        digest: vec![n; 32],
        client_id: client.to_owned(),
        customer,
        redirect_uri: "https://pitangui.amazon.com/api/skill/link/X".to_owned(),
        scope: "order".to_owned(),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned()),
        created_at: T0,
        expires_at: at(60),
    }
}

fn grant_id(name: &str) -> GrantId {
    GrantId::parse(name).unwrap()
}

fn new_grant(id: &str, client: &str, customer: CustomerId, refresh: u8) -> NewGrant {
    NewGrant {
        grant: Grant {
            id: grant_id(id),
            client_id: client.to_owned(),
            customer,
            scope: "order".to_owned(),
            created_at: at(1),
            revoked_at: None,
        },
        refresh_digest: vec![refresh; 32],
    }
}

async fn is_active(store: &Arc<dyn OAuthStore>, id: &str) -> bool {
    store
        .grant(&grant_id(id))
        .await
        .unwrap()
        .unwrap()
        .is_active()
}

/// Clients read back equal; a second client with the same id conflicts.
pub async fn oauth_clients_round_trip_and_ids_are_unique(store: Arc<dyn OAuthStore>) {
    store.add_client(&client("alexa")).await.unwrap();
    store.add_client(&client("other")).await.unwrap();
    assert_eq!(store.client("alexa").await.unwrap(), Some(client("alexa")));
    assert_eq!(store.client("nobody").await.unwrap(), None);
    assert!(matches!(
        store.add_client(&client("alexa")).await,
        Err(StoreError::Conflict)
    ));
    let ids: Vec<String> = store
        .clients()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, ["alexa", "other"]);
}

/// A code reads back equal, redeems once (storing the grant and its first
/// refresh token), and a second redemption revokes that grant.
pub async fn oauth_a_code_redeems_once_and_reuse_revokes_its_grant(store: Arc<dyn OAuthStore>) {
    store.add_client(&client("alexa")).await.unwrap();
    let saved = code(1, "alexa", ann());
    store.save_code(&saved).await.unwrap();
    assert_eq!(store.code(&[1; 32]).await.unwrap(), Some(saved));
    assert_eq!(store.code(&[9; 32]).await.unwrap(), None);
    let grant = new_grant("g1", "alexa", ann(), 11);
    assert_eq!(
        store
            .consume_code(&[1; 32], Some(&grant), at(2))
            .await
            .unwrap(),
        Redemption::Redeemed
    );
    assert_eq!(
        store.refresh_grant(&[11; 32]).await.unwrap(),
        Some(grant.grant.clone())
    );
    assert_eq!(
        store.grants_of(&ann()).await.unwrap(),
        vec![grant.grant.clone()]
    );
    let again = new_grant("g2", "alexa", ann(), 12);
    assert_eq!(
        store
            .consume_code(&[1; 32], Some(&again), at(3))
            .await
            .unwrap(),
        Redemption::Reused
    );
    assert!(!is_active(&store, "g1").await);
    assert_eq!(store.grant(&grant_id("g2")).await.unwrap(), None);
    assert_eq!(store.refresh_grant(&[12; 32]).await.unwrap(), None);
    assert!(store.grants_of(&ann()).await.unwrap().is_empty());
    assert_eq!(
        store.consume_code(&[9; 32], None, at(3)).await.unwrap(),
        Redemption::Unknown
    );
}

/// A code consumed without a grant (a refused token request) cannot be
/// redeemed afterwards.
pub async fn oauth_a_burnt_code_redeems_nothing(store: Arc<dyn OAuthStore>) {
    store.add_client(&client("alexa")).await.unwrap();
    store.save_code(&code(1, "alexa", ann())).await.unwrap();
    assert_eq!(
        store.consume_code(&[1; 32], None, at(2)).await.unwrap(),
        Redemption::Redeemed
    );
    let grant = new_grant("g1", "alexa", ann(), 11);
    assert_eq!(
        store
            .consume_code(&[1; 32], Some(&grant), at(3))
            .await
            .unwrap(),
        Redemption::Reused
    );
    assert_eq!(store.grant(&grant_id("g1")).await.unwrap(), None);
}

/// Of redemptions of one code started at once, exactly one redeems it; the
/// others find it used (and revoke the grant it made).
pub async fn oauth_two_concurrent_redemptions_of_one_code_give_exactly_one_grant(
    store: Arc<dyn OAuthStore>,
) {
    store.add_client(&client("alexa")).await.unwrap();
    for round in 0..10u8 {
        store
            .save_code(&code(100 + round, "alexa", ann()))
            .await
            .unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let tasks: Vec<_> = (0..2u8)
            .map(|i| {
                let store = store.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    let grant = new_grant(&format!("r{round}t{i}"), "alexa", ann(), round * 2 + i);
                    barrier.wait().await;
                    store
                        .consume_code(&[100 + round; 32], Some(&grant), at(2))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        let redeemed = outcomes
            .iter()
            .filter(|o| **o == Redemption::Redeemed)
            .count();
        let reused = outcomes
            .iter()
            .filter(|o| **o == Redemption::Reused)
            .count();
        assert_eq!((redeemed, reused), (1, 1), "round {round}: {outcomes:?}");
        let made: Vec<_> = [0u8, 1].iter().map(|i| format!("r{round}t{i}")).collect();
        let mut stored = 0;
        for id in &made {
            if let Some(grant) = store.grant(&grant_id(id)).await.unwrap() {
                stored += 1;
                // The loser's redemption revoked the winner's grant.
                assert!(!grant.is_active());
            }
        }
        assert_eq!(stored, 1, "round {round}");
    }
}

/// Rotation spends the old refresh token and adds the new one to the same
/// grant; presenting a spent token revokes the grant, and then every token
/// of it is refused.
pub async fn oauth_refresh_rotation_spends_the_old_token_and_reuse_revokes_the_family(
    store: Arc<dyn OAuthStore>,
) {
    store.add_client(&client("alexa")).await.unwrap();
    store.save_code(&code(1, "alexa", ann())).await.unwrap();
    let grant = new_grant("g1", "alexa", ann(), 11);
    store
        .consume_code(&[1; 32], Some(&grant), at(2))
        .await
        .unwrap();
    assert_eq!(
        store
            .rotate_refresh(&[11; 32], &[12; 32], at(3))
            .await
            .unwrap(),
        Rotation::Rotated(grant.grant.clone())
    );
    assert_eq!(
        store
            .rotate_refresh(&[12; 32], &[13; 32], at(4))
            .await
            .unwrap(),
        Rotation::Rotated(grant.grant.clone())
    );
    assert_eq!(
        store
            .rotate_refresh(&[99; 32], &[98; 32], at(4))
            .await
            .unwrap(),
        Rotation::Unknown
    );
    // The first token again: the whole family goes.
    assert_eq!(
        store
            .rotate_refresh(&[11; 32], &[14; 32], at(5))
            .await
            .unwrap(),
        Rotation::Reused
    );
    assert!(!is_active(&store, "g1").await);
    assert_eq!(
        store
            .rotate_refresh(&[13; 32], &[15; 32], at(6))
            .await
            .unwrap(),
        Rotation::Revoked
    );
    assert_eq!(store.refresh_grant(&[14; 32]).await.unwrap(), None);
    assert_eq!(store.refresh_grant(&[15; 32]).await.unwrap(), None);
}

/// Of rotations of one refresh token started at once, exactly one rotates
/// it; the other is a reuse and revokes the grant.
pub async fn oauth_two_concurrent_rotations_of_one_token_rotate_once(store: Arc<dyn OAuthStore>) {
    store.add_client(&client("alexa")).await.unwrap();
    for round in 0..10u8 {
        store.save_code(&code(round, "alexa", ann())).await.unwrap();
        let id = format!("g{round}");
        let first = 100 + round;
        store
            .consume_code(
                &[round; 32],
                Some(&new_grant(&id, "alexa", ann(), first)),
                at(2),
            )
            .await
            .unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let tasks: Vec<_> = (0..2u8)
            .map(|i| {
                let store = store.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    let next = [200u8.wrapping_add(round * 2 + i); 32];
                    barrier.wait().await;
                    store
                        .rotate_refresh(&[first; 32], &next, at(3))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut rotated = 0;
        for task in tasks {
            match task.await.unwrap() {
                Rotation::Rotated(_) => rotated += 1,
                Rotation::Reused | Rotation::Revoked => {}
                Rotation::Unknown => panic!("round {round}: the token was lost"),
            }
        }
        assert_eq!(rotated, 1, "round {round}");
        assert!(!is_active(&store, &id).await, "round {round}");
    }
}

/// `revoke_grants` revokes the active grants matching every filter given,
/// and counts them.
pub async fn oauth_revoking_grants_by_client_customer_and_id(store: Arc<dyn OAuthStore>) {
    store.add_client(&client("alexa")).await.unwrap();
    store.add_client(&client("other")).await.unwrap();
    let grants = [
        ("a1", "alexa", ann()),
        ("a2", "alexa", bob()),
        ("o1", "other", ann()),
        ("a3", "alexa", ann()),
    ];
    for (n, (id, c, who)) in grants.iter().enumerate() {
        let n = n as u8;
        store.save_code(&code(n, c, who.clone())).await.unwrap();
        let mut grant = new_grant(id, c, who.clone(), 50 + n);
        grant.grant.created_at = at(u64::from(n) + 1);
        store
            .consume_code(&[n; 32], Some(&grant), at(10))
            .await
            .unwrap();
    }
    let listed: Vec<String> = store
        .grants_of(&ann())
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.id.to_string())
        .collect();
    assert_eq!(listed, ["a3", "o1", "a1"]);
    // Bob cannot revoke Ann's grant.
    assert_eq!(
        store
            .revoke_grants(None, Some(&bob()), Some(&grant_id("a1")), at(11))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .revoke_grants(None, Some(&ann()), Some(&grant_id("a1")), at(11))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .revoke_grants(Some("alexa"), Some(&ann()), None, at(12))
            .await
            .unwrap(),
        1
    );
    assert!(is_active(&store, "o1").await && is_active(&store, "a2").await);
    assert_eq!(
        store
            .revoke_grants(Some("alexa"), None, None, at(13))
            .await
            .unwrap(),
        1
    );
    assert!(!is_active(&store, "a2").await);
    let revoked = store.grant(&grant_id("a1")).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at(11)));
}

/// Removing a client revokes its grants and forgets its codes.
pub async fn oauth_removing_a_client_revokes_its_grants(store: Arc<dyn OAuthStore>) {
    store.add_client(&client("alexa")).await.unwrap();
    store.save_code(&code(1, "alexa", ann())).await.unwrap();
    store.save_code(&code(2, "alexa", ann())).await.unwrap();
    store
        .consume_code(&[1; 32], Some(&new_grant("g1", "alexa", ann(), 11)), at(2))
        .await
        .unwrap();
    assert!(store.remove_client("alexa", at(3)).await.unwrap());
    assert!(!store.remove_client("alexa", at(3)).await.unwrap());
    assert_eq!(store.client("alexa").await.unwrap(), None);
    assert!(!is_active(&store, "g1").await);
    assert_eq!(store.code(&[2; 32]).await.unwrap(), None);
}

/// A grant refreshed for months keeps only the tokens spent within
/// [`SPENT_REFRESH_RETENTION`](crate::oauth::SPENT_REFRESH_RETENTION); an
/// older one is unknown (refused, revoking nothing), a recent one is still
/// a reuse.
pub async fn oauth_spent_refresh_tokens_are_forgotten_after_the_retention(
    store: Arc<dyn OAuthStore>,
) {
    store.add_client(&client("alexa")).await.unwrap();
    store.save_code(&code(1, "alexa", ann())).await.unwrap();
    store
        .consume_code(&[1; 32], Some(&new_grant("g1", "alexa", ann(), 11)), at(2))
        .await
        .unwrap();
    let day = 86_400;
    assert!(matches!(
        store
            .rotate_refresh(&[11; 32], &[12; 32], at(3))
            .await
            .unwrap(),
        Rotation::Rotated(_)
    ));
    assert!(matches!(
        store
            .rotate_refresh(&[12; 32], &[13; 32], at(3 + 20 * day))
            .await
            .unwrap(),
        Rotation::Rotated(_)
    ));
    // 31 days after the first was spent: it is forgotten, the second is not.
    assert!(matches!(
        store
            .rotate_refresh(&[13; 32], &[14; 32], at(3 + 31 * day))
            .await
            .unwrap(),
        Rotation::Rotated(_)
    ));
    assert_eq!(store.refresh_grant(&[11; 32]).await.unwrap(), None);
    assert_eq!(
        store
            .rotate_refresh(&[11; 32], &[15; 32], at(3 + 31 * day))
            .await
            .unwrap(),
        Rotation::Unknown
    );
    assert!(is_active(&store, "g1").await);
    assert_eq!(
        store
            .rotate_refresh(&[12; 32], &[15; 32], at(3 + 31 * day))
            .await
            .unwrap(),
        Rotation::Reused
    );
    assert!(!is_active(&store, "g1").await);
}
