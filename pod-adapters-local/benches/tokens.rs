//! Access-token validation of the embedded identity: what every `/alexa`
//! order and confirm and every `/api` call pays before anything else.
//!
//! `LocalAccessTokens::customer_for_token` on a valid HS256 token (decode
//! the three base64 parts, HMAC-SHA256 over header and claims, parse the
//! claims, check `iss`, `aud`, `exp`), and on a forged one (right shape,
//! signed with another key: rejected at the HMAC comparison).

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use pod_adapters_local::{LocalAccessTokens, LocalTokenConfig, LocalTokenKey, SystemClock};
use pod_domain::CustomerId;
use pod_ports::{AccessTokens, Clock};

fn token_validation(c: &mut Criterion) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tokens_for = |key: &[u8]| {
        LocalAccessTokens::new(
            &LocalTokenKey::from_bytes(key).expect("32-byte key"),
            LocalTokenConfig::default(),
            clock.clone(),
        )
    };
    let tokens = tokens_for(&[7; 32]);
    let forger = tokens_for(&[8; 32]);
    let customer = CustomerId::parse("local|bench").expect("customer id");
    let valid = tokens.issue(&customer, Duration::from_secs(3600), clock.now());
    let forged = forger.issue(&customer, Duration::from_secs(3600), clock.now());

    // `customer_for_token` is async only because the port is; the local
    // adapter never awaits, so a current-thread runtime adds next to nothing.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    assert_eq!(
        rt.block_on(tokens.customer_for_token(&valid)).as_ref(),
        Ok(&customer)
    );
    assert!(rt.block_on(tokens.customer_for_token(&forged)).is_err());

    let mut group = c.benchmark_group("local access token");
    group.bench_function("valid", |b| {
        b.iter(|| rt.block_on(tokens.customer_for_token(&valid)))
    });
    group.bench_function("forged (rejected)", |b| {
        b.iter(|| rt.block_on(tokens.customer_for_token(&forged)))
    });
    group.finish();
}

criterion_group!(benches, token_validation);
criterion_main!(benches);
