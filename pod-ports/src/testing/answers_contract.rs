//! The contract every [`AnsweredRequests`] keeps, as functions over a fresh
//! store. [`answered_requests_contract!`](crate::answered_requests_contract)
//! turns them into one `#[tokio::test]` each for an adapter's test binary.

use std::sync::Arc;
use std::time::Duration;

use pod_domain::Timestamp;
use tokio::sync::Barrier;

use crate::{AnsweredRequests, Claim};

/// Generates one `#[tokio::test]` per contract check, each on a fresh store
/// from `$make` (an async fn returning `(Arc<dyn AnsweredRequests>, guard)`,
/// the guard keeping alive whatever the store needs).
#[macro_export]
macro_rules! answered_requests_contract {
    ($make:path) => {
        $crate::answered_requests_contract!(@tests $make;
            a_request_id_is_claimed_once_then_answers_the_same,
            a_released_claim_can_be_claimed_again,
            an_expired_claim_counts_as_absent,
            of_concurrent_claims_of_one_id_exactly_one_is_fresh,
            fingerprints_and_answers_are_kept_verbatim,
        );
    };
    (@tests $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (store, _guard) = $make().await;
                $crate::testing::answers_contract::$name(store).await;
            }
        )*
    };
}

const T0: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

fn at(seconds: u64) -> Timestamp {
    T0.plus(Duration::from_secs(seconds))
}

const FP: &[u8] = &[7; 32];

fn taken(fingerprint: &[u8], answer: Option<&str>) -> Claim {
    Claim::Taken {
        fingerprint: fingerprint.to_vec(),
        answer: answer.map(str::to_owned),
    }
}

/// The first claim of an id is fresh; later ones see it in flight, then
/// with its answer; other ids are unaffected.
pub async fn a_request_id_is_claimed_once_then_answers_the_same(store: Arc<dyn AnsweredRequests>) {
    let claim = |id: &'static str, now| {
        let store = store.clone();
        async move { store.claim(id, FP, now, at(300)).await.unwrap() }
    };
    assert_eq!(claim("r1", at(0)).await, Claim::Fresh);
    assert_eq!(claim("r1", at(1)).await, taken(FP, None));
    store.record_answer("r1", r#"{"ok":1}"#).await.unwrap();
    assert_eq!(claim("r1", at(2)).await, taken(FP, Some(r#"{"ok":1}"#)));
    assert_eq!(claim("r1", at(3)).await, taken(FP, Some(r#"{"ok":1}"#)));
    assert_eq!(claim("r2", at(3)).await, Claim::Fresh);
    assert_eq!(claim("r2", at(4)).await, taken(FP, None));
    // Ids are compared exactly.
    assert_eq!(claim("R1", at(4)).await, Claim::Fresh);
}

/// Releasing a claim lets the next claim have it; recording or releasing
/// an id that holds no claim does nothing.
pub async fn a_released_claim_can_be_claimed_again(store: Arc<dyn AnsweredRequests>) {
    store.record_answer("nobody", "x").await.unwrap();
    store.release("nobody").await.unwrap();
    assert_eq!(
        store.claim("nobody", FP, at(0), at(300)).await.unwrap(),
        Claim::Fresh,
        "recording for an unclaimed id claims nothing"
    );
    assert_eq!(
        store.claim("r1", FP, at(0), at(300)).await.unwrap(),
        Claim::Fresh
    );
    store.release("r1").await.unwrap();
    assert_eq!(
        store.claim("r1", &[8; 32], at(1), at(300)).await.unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        store.claim("r1", FP, at(2), at(300)).await.unwrap(),
        taken(&[8; 32], None)
    );
}

/// A claim is live until its `keep_until`; from then on it counts as
/// absent, whether or not it was swept yet.
pub async fn an_expired_claim_counts_as_absent(store: Arc<dyn AnsweredRequests>) {
    assert_eq!(
        store.claim("r1", FP, at(0), at(10)).await.unwrap(),
        Claim::Fresh
    );
    store.record_answer("r1", "first").await.unwrap();
    assert_eq!(
        store.claim("r1", FP, at(9), at(19)).await.unwrap(),
        taken(FP, Some("first"))
    );
    assert_eq!(
        store.claim("r1", &[9; 32], at(10), at(20)).await.unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        store.claim("r1", FP, at(11), at(21)).await.unwrap(),
        taken(&[9; 32], None)
    );
    // Many claims expire together; later ones are unaffected by the sweep.
    for n in 0..20 {
        let id = format!("old{n}");
        assert_eq!(
            store.claim(&id, FP, at(0), at(5)).await.unwrap(),
            Claim::Fresh
        );
    }
    assert_eq!(
        store.claim("new", FP, at(3600), at(3900)).await.unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        store.claim("old3", FP, at(3601), at(3900)).await.unwrap(),
        Claim::Fresh
    );
    assert_eq!(
        store.claim("new", FP, at(3602), at(3900)).await.unwrap(),
        taken(FP, None)
    );
}

/// Many callers claiming one id at once: exactly one gets it, whatever the
/// interleaving, and every other sees that claim.
pub async fn of_concurrent_claims_of_one_id_exactly_one_is_fresh(store: Arc<dyn AnsweredRequests>) {
    const CALLERS: usize = 16;
    for round in 0..10u64 {
        let barrier = Arc::new(Barrier::new(CALLERS));
        let mut tasks = Vec::new();
        for caller in 0..CALLERS {
            let store = store.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let id = format!("round{round}");
                let fingerprint = [caller as u8; 32];
                barrier.wait().await;
                let claim = store
                    .claim(&id, &fingerprint, at(round), at(round + 300))
                    .await
                    .unwrap();
                (fingerprint, claim)
            }));
        }
        let mut winners = Vec::new();
        let mut seen = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                (fingerprint, Claim::Fresh) => winners.push(fingerprint.to_vec()),
                (
                    _,
                    Claim::Taken {
                        fingerprint,
                        answer,
                    },
                ) => {
                    assert_eq!(answer, None);
                    seen.push(fingerprint);
                }
            }
        }
        assert_eq!(winners.len(), 1, "round {round}");
        assert!(seen.iter().all(|f| *f == winners[0]), "round {round}");
    }
}

/// Fingerprints are bytes and answers text, both kept exactly.
pub async fn fingerprints_and_answers_are_kept_verbatim(store: Arc<dyn AnsweredRequests>) {
    let fingerprint: Vec<u8> = (0..=255).collect();
    let answer = format!(
        "{{\"speech\":\"Caf\u{e9} \\\"quoted\\\" \u{1f355}\",\"pad\":\"{}\"}}\n",
        "x".repeat(8000)
    );
    let id = "amzn1.echo-api.request.0f0e-\u{e9}";
    assert_eq!(
        store.claim(id, &fingerprint, at(0), at(300)).await.unwrap(),
        Claim::Fresh
    );
    store.record_answer(id, &answer).await.unwrap();
    assert_eq!(
        store.claim(id, FP, at(1), at(300)).await.unwrap(),
        taken(&fingerprint, Some(&answer))
    );
}
