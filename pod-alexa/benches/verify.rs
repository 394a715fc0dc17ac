//! Full verification of a dev-signed Alexa request with a cached chain:
//! the chain URL, chain validation, the RSA signature, and the one parse of
//! the body into the typed envelope with its timestamp and skill id checks.

use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use pod_alexa::verify::{DevSigningKeys, RequestVerifier, VerifierConfig, format_iso8601};
use pod_domain::Timestamp;

fn verify_dev_signed(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = DevSigningKeys::load_or_create(dir.path()).expect("dev keys");
    let skill = "amzn1.ask.skill.bench";
    let mut config = VerifierConfig::new(keys.dev_mode());
    config.skill_ids = vec![skill.to_string()];
    let verifier = RequestVerifier::new(config).expect("verifier");

    let millis = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    let now = Timestamp::from_unix_millis(millis as i64);
    let body = format!(
        r#"{{"version":"1.0","context":{{"System":{{"application":{{"applicationId":"{skill}"}}}}}},"request":{{"type":"IntentRequest","requestId":"r","timestamp":"{}","locale":"en-US","intent":{{"name":"GetMeSomePizzaIntent"}}}}}}"#,
        format_iso8601(now)
    )
    .into_bytes();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "signaturecertchainurl",
        keys.chain_url().parse().expect("header"),
    );
    headers.insert("signature-256", keys.sign(&body).parse().expect("header"));

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    // Fill the cache.
    rt.block_on(verifier.verify(&headers, &body, now))
        .expect("valid request");

    c.bench_function("verify dev-signed request (cached chain)", |b| {
        b.iter(|| rt.block_on(verifier.verify(&headers, &body, now)))
    });
}

criterion_group!(benches, verify_dev_signed);
criterion_main!(benches);
