//! Tests of Alexa request verification (`pod_alexa::verify`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, HeaderValue};
use pod_alexa::envelope::Request;
use pod_alexa::verify::{
    ChainSource, ConfigError, DEV_CA_CERT_FILE, DEV_CHAIN_FILE, DEV_KEY_FILE, DevSigningKeys,
    FetchError, HttpChainSource, RequestVerifier, SigningChain, TrustStore, VerifierConfig,
    VerifyError, VerifyMode, check_chain_url, format_iso8601, parse_iso8601,
};
use pod_domain::Timestamp;
use proptest::prelude::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_RSA_SHA256, SigningKey,
};
use rustls_pki_types::CertificateDer;
use url::Url;

const SKILL: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";
const CHAIN_URL: &str = "https://s3.amazonaws.com/echo.api/test-chain.pem";

fn ts(text: &str) -> Timestamp {
    parse_iso8601(text).unwrap_or_else(|| panic!("bad test time {text}"))
}

/// The pinned "now" for test chains built with rcgen.
fn now() -> Timestamp {
    ts("2026-11-24T21:30:00Z")
}

fn system_now() -> Timestamp {
    let millis = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    Timestamp::from_unix_millis(millis as i64)
}

fn body_at(at: Timestamp, app_id: &str) -> Vec<u8> {
    format!(
        r#"{{"version":"1.0","session":{{"new":true,"sessionId":"s","application":{{"applicationId":"{app_id}"}}}},"context":{{"System":{{"application":{{"applicationId":"{app_id}"}}}}}},"request":{{"type":"LaunchRequest","requestId":"r","timestamp":"{}","locale":"en-US"}}}}"#,
        format_iso8601(at)
    )
    .into_bytes()
}

fn headers(chain_url: Option<&str>, signature: Option<&str>) -> HeaderMap {
    let mut map = HeaderMap::new();
    if let Some(url) = chain_url {
        map.insert(
            HeaderName::from_static("signaturecertchainurl"),
            HeaderValue::from_str(url).unwrap(),
        );
    }
    if let Some(sig) = signature {
        map.insert(
            HeaderName::from_static("signature-256"),
            HeaderValue::from_str(sig).unwrap(),
        );
    }
    map
}

/// `ok`, or the reason of the error (for verification and chain checks).
fn reason<T>(result: Result<T, VerifyError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.reason(),
    }
}

// ---------------------------------------------------------------------------
// Test PKI built with rcgen

struct Keys {
    root: KeyPair,
    other_root: KeyPair,
    intermediate: KeyPair,
    leaf: KeyPair,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let gen_key = || KeyPair::generate_for(&PKCS_RSA_SHA256).unwrap();
        Keys {
            root: gen_key(),
            other_root: gen_key(),
            intermediate: gen_key(),
            leaf: gen_key(),
        }
    })
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2040, 1, 1);
    params
}

/// What to build a test chain with.
#[derive(Clone)]
struct LeafSpec {
    sans: Vec<String>,
    not_before: (i32, u8, u8),
    not_after: (i32, u8, u8),
    eku: Vec<ExtendedKeyUsagePurpose>,
    signed_by_other_root: bool,
    with_intermediate: bool,
}

impl Default for LeafSpec {
    fn default() -> Self {
        LeafSpec {
            sans: vec!["echo-api.amazon.com".into()],
            not_before: (2026, 1, 1),
            not_after: (2027, 1, 1),
            eku: vec![ExtendedKeyUsagePurpose::ServerAuth],
            signed_by_other_root: false,
            with_intermediate: false,
        }
    }
}

struct TestChain {
    pem: Vec<u8>,
    root_der: CertificateDer<'static>,
}

fn build_chain(spec: &LeafSpec) -> TestChain {
    let k = keys();
    let root_params = ca_params("pod test root");
    let root_cert = root_params.self_signed(&k.root).unwrap();
    let root_issuer = Issuer::from_params(&root_params, &k.root);
    let other_params = ca_params("pod untrusted root");
    let other_issuer = Issuer::from_params(&other_params, &k.other_root);

    let mut leaf = CertificateParams::new(spec.sans.clone()).unwrap();
    leaf.distinguished_name = rcgen::DistinguishedName::new();
    leaf.distinguished_name
        .push(DnType::CommonName, "echo-api.amazon.com");
    leaf.extended_key_usages = spec.eku.clone();
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let (y, m, d) = spec.not_before;
    leaf.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = spec.not_after;
    leaf.not_after = rcgen::date_time_ymd(y, m, d);
    leaf.use_authority_key_identifier_extension = true;

    let mut pem = String::new();
    if spec.with_intermediate {
        let mid_params = ca_params("pod test intermediate");
        let mid_cert = mid_params.signed_by(&k.intermediate, &root_issuer).unwrap();
        let mid_issuer = Issuer::from_params(&mid_params, &k.intermediate);
        pem.push_str(&leaf.signed_by(&k.leaf, &mid_issuer).unwrap().pem());
        pem.push_str(&mid_cert.pem());
    } else if spec.signed_by_other_root {
        pem.push_str(&leaf.signed_by(&k.leaf, &other_issuer).unwrap().pem());
    } else {
        pem.push_str(&leaf.signed_by(&k.leaf, &root_issuer).unwrap().pem());
    }
    pem.push_str(&root_cert.pem());
    TestChain {
        pem: pem.into_bytes(),
        root_der: root_cert.der().clone(),
    }
}

fn sign_with_leaf(body: &[u8]) -> String {
    STANDARD.encode(keys().leaf.sign(body).unwrap())
}

/// A chain source serving fixed bytes by URL path and counting fetches.
#[derive(Debug, Default)]
struct FakeSource {
    chains: HashMap<String, Vec<u8>>,
    fetches: AtomicUsize,
}

impl FakeSource {
    fn with(path: &str, pem: Vec<u8>) -> Arc<Self> {
        let mut source = FakeSource::default();
        source.chains.insert(path.to_string(), pem);
        Arc::new(source)
    }
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl ChainSource for FakeSource {
    async fn fetch(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.chains
            .get(url.path())
            .cloned()
            .ok_or(FetchError::NotFound)
    }
}

fn dev_verifier(
    root: &CertificateDer<'static>,
    source: Arc<FakeSource>,
    skill_ids: &[&str],
) -> RequestVerifier {
    let mut config = VerifierConfig::new(VerifyMode::Dev {
        ca_cert: root.clone(),
        chain_dir: "/nonexistent".into(),
    });
    config.skill_ids = skill_ids.iter().map(|s| s.to_string()).collect();
    config.chain_source = Some(source);
    RequestVerifier::new(config).unwrap()
}

// ---------------------------------------------------------------------------
// 1. Certificate URLs

#[test]
fn amazon_documented_chain_urls() {
    // The examples from Amazon's "Host a custom skill as a web service"
    // documentation (3 valid, 5 invalid), plus a few more.
    let cases: &[(&str, bool)] = &[
        ("https://s3.amazonaws.com/echo.api/echo-api-cert.pem", true),
        (
            "https://s3.amazonaws.com:443/echo.api/echo-api-cert.pem",
            true,
        ),
        (
            "https://s3.amazonaws.com/echo.api/../echo.api/echo-api-cert.pem",
            true,
        ),
        ("http://s3.amazonaws.com/echo.api/echo-api-cert.pem", false),
        ("https://notamazon.com/echo.api/echo-api-cert.pem", false),
        ("https://s3.amazonaws.com/EcHo.aPi/echo-api-cert.pem", false),
        (
            "https://s3.amazonaws.com/invalid.path/echo-api-cert.pem",
            false,
        ),
        (
            "https://s3.amazonaws.com:563/echo.api/echo-api-cert.pem",
            false,
        ),
        // Not from the documentation.
        ("HTTPS://s3.amazonaws.com/echo.api/echo-api-cert.pem", true),
        ("https://S3.AmazonAWS.com/echo.api/echo-api-cert.pem", true),
        (
            "HTTPS://S3.AMAZONAWS.COM:443/echo.api/echo-api-cert.pem",
            true,
        ),
        ("https://s3.amazonaws.com/echo.api/%2e%2e/secret.pem", false),
        ("https://s3.amazonaws.com/echo.api/../secret.pem", false),
        ("https://s3.amazonaws.com/ECHO.API/echo-api-cert.pem", false),
        (
            "https://s3.amazonaws.com.evil.example/echo.api/cert.pem",
            false,
        ),
        (
            "https://evil.example/s3.amazonaws.com/echo.api/cert.pem",
            false,
        ),
        ("https://user:pw@s3.amazonaws.com/echo.api/cert.pem", false),
        (
            "https://s3.amazonaws.com:80/echo.api/echo-api-cert.pem",
            false,
        ),
        ("https://s3.amazonaws.com/echo.api", false),
        ("ftp://s3.amazonaws.com/echo.api/echo-api-cert.pem", false),
        ("/echo.api/echo-api-cert.pem", false),
        ("", false),
    ];
    for (url, valid) in cases {
        let result = check_chain_url(url);
        assert_eq!(result.is_ok(), *valid, "{url}: {result:?}");
        if let Err(e) = result {
            assert_eq!(e.reason(), "cert_url");
        }
    }
}

#[tokio::test]
async fn bad_chain_url_is_rejected_without_fetching() {
    let chain = build_chain(&LeafSpec::default());
    let source = FakeSource::with("/invalid.path/test-chain.pem", chain.pem.clone());
    let verifier = dev_verifier(&chain.root_der, source.clone(), &[]);
    let body = body_at(now(), SKILL);
    let sig = sign_with_leaf(&body);
    for url in [
        "http://s3.amazonaws.com/echo.api/test-chain.pem",
        "https://s3.amazonaws.com/invalid.path/test-chain.pem",
        "https://s3.amazonaws.com:563/echo.api/test-chain.pem",
    ] {
        let result = verifier
            .verify(&headers(Some(url), Some(&sig)), &body, now())
            .await;
        assert_eq!(reason(result), "cert_url", "{url}");
    }
    assert_eq!(source.fetches(), 0);
}

// ---------------------------------------------------------------------------
// 2. Requests against rcgen-built chains

/// How a test request deviates from a valid one.
#[derive(Clone, Copy, Debug)]
enum Tamper {
    None,
    SignOtherBytes,
    NoSignature,
    LegacySha1Only,
    BadBase64,
    NoChainUrl,
    Timestamp(i64),
    SkillId,
    SessionSkillIdOnly,
    NoSkillId,
    MalformedJson,
    NoTimestamp,
    BadTimestamp,
    UpperCaseHeaderNames,
    RepeatedSignature,
}

fn request(
    tamper: Tamper,
    chain_url: &str,
    sign: &dyn Fn(&[u8]) -> String,
    at: Timestamp,
) -> (HeaderMap, Vec<u8>) {
    let body = match tamper {
        Tamper::Timestamp(secs) => body_at(
            Timestamp::from_unix_millis(at.unix_millis() + secs * 1000),
            SKILL,
        ),
        Tamper::SkillId => body_at(at, "amzn1.ask.skill.someone-else"),
        Tamper::SessionSkillIdOnly => format!(
            r#"{{"session":{{"application":{{"applicationId":"{SKILL}"}}}},"request":{{"type":"LaunchRequest","timestamp":"{}"}}}}"#,
            format_iso8601(at)
        )
        .into_bytes(),
        Tamper::NoSkillId => {
            format!(r#"{{"request":{{"timestamp":"{}"}}}}"#, format_iso8601(at)).into_bytes()
        }
        Tamper::MalformedJson => b"{\"request\": {\"timestamp\": ".to_vec(),
        Tamper::NoTimestamp => br#"{"request":{"type":"LaunchRequest"}}"#.to_vec(),
        Tamper::BadTimestamp => br#"{"request":{"timestamp":"yesterday"}}"#.to_vec(),
        _ => body_at(at, SKILL),
    };
    let signature = match tamper {
        Tamper::SignOtherBytes => sign(b"some other body"),
        Tamper::BadBase64 => "not base64 at all!".to_string(),
        _ => sign(&body),
    };
    let mut map = HeaderMap::new();
    let url_name = HeaderName::from_bytes(b"SignatureCertChainUrl").unwrap();
    let sig_name = HeaderName::from_bytes(match tamper {
        Tamper::UpperCaseHeaderNames => b"SIGNATURE-256".as_slice(),
        _ => b"Signature-256".as_slice(),
    })
    .unwrap();
    if !matches!(tamper, Tamper::NoChainUrl) {
        map.insert(url_name, HeaderValue::from_str(chain_url).unwrap());
    }
    match tamper {
        Tamper::NoSignature => {}
        Tamper::LegacySha1Only => {
            // A legacy `Signature` header (SHA-1) alone is never accepted.
            map.insert(
                HeaderName::from_static("signature"),
                HeaderValue::from_str(&signature).unwrap(),
            );
        }
        Tamper::RepeatedSignature => {
            map.append(sig_name.clone(), HeaderValue::from_str(&signature).unwrap());
            map.append(sig_name, HeaderValue::from_str(&signature).unwrap());
        }
        _ => {
            map.insert(sig_name, HeaderValue::from_str(&signature).unwrap());
        }
    }
    (map, body)
}

/// The request cases that do not depend on the certificate, with the
/// expected reason.
const REQUEST_CASES: &[(Tamper, &str)] = &[
    (Tamper::None, "ok"),
    (Tamper::SignOtherBytes, "signature_invalid"),
    (Tamper::NoSignature, "signature_missing"),
    (Tamper::LegacySha1Only, "signature_missing"),
    (Tamper::RepeatedSignature, "signature_missing"),
    (Tamper::BadBase64, "signature_invalid"),
    (Tamper::NoChainUrl, "cert_url"),
    (Tamper::Timestamp(-151), "timestamp"),
    (Tamper::Timestamp(151), "timestamp"),
    (Tamper::Timestamp(-150), "ok"),
    (Tamper::Timestamp(150), "ok"),
    (Tamper::Timestamp(-3600), "timestamp"),
    (Tamper::SkillId, "skill_id"),
    (Tamper::SessionSkillIdOnly, "ok"),
    (Tamper::NoSkillId, "skill_id"),
    (Tamper::MalformedJson, "body_invalid"),
    (Tamper::NoTimestamp, "timestamp"),
    (Tamper::BadTimestamp, "timestamp"),
    (Tamper::UpperCaseHeaderNames, "ok"),
];

#[tokio::test]
async fn request_cases_with_rcgen_chain() {
    let chain = build_chain(&LeafSpec::default());
    let source = FakeSource::with("/echo.api/test-chain.pem", chain.pem.clone());
    let verifier = dev_verifier(&chain.root_der, source, &[SKILL]);
    for (tamper, expected) in REQUEST_CASES {
        let (h, body) = request(*tamper, CHAIN_URL, &sign_with_leaf, now());
        let got = reason(verifier.verify(&h, &body, now()).await);
        assert_eq!(got, *expected, "{tamper:?}");
    }
}

#[tokio::test]
async fn certificate_cases_with_rcgen_chains() {
    let cases: Vec<(&str, LeafSpec, &str)> = vec![
        ("valid", LeafSpec::default(), "ok"),
        (
            "with intermediate",
            LeafSpec {
                with_intermediate: true,
                ..LeafSpec::default()
            },
            "ok",
        ),
        (
            "expired",
            LeafSpec {
                not_before: (2025, 1, 1),
                not_after: (2026, 1, 1),
                ..LeafSpec::default()
            },
            "cert_expired",
        ),
        (
            "not yet valid",
            LeafSpec {
                not_before: (2027, 1, 1),
                not_after: (2028, 1, 1),
                ..LeafSpec::default()
            },
            "cert_not_yet_valid",
        ),
        (
            "no echo-api SAN",
            LeafSpec {
                sans: vec!["other.amazon.com".into()],
                ..LeafSpec::default()
            },
            "cert_san",
        ),
        (
            "SAN look-alike",
            LeafSpec {
                sans: vec!["echo-api.amazon.com.evil.example".into()],
                ..LeafSpec::default()
            },
            "cert_san",
        ),
        (
            "untrusted root",
            LeafSpec {
                signed_by_other_root: true,
                ..LeafSpec::default()
            },
            "cert_untrusted",
        ),
        (
            "client auth only",
            LeafSpec {
                eku: vec![ExtendedKeyUsagePurpose::ClientAuth],
                ..LeafSpec::default()
            },
            "cert_untrusted",
        ),
    ];
    // All chains share one root, so one verifier trusting it serves all.
    let root = build_chain(&LeafSpec::default()).root_der;
    for (name, spec, expected) in cases {
        let chain = build_chain(&spec);
        let source = FakeSource::with("/echo.api/test-chain.pem", chain.pem.clone());
        let verifier = dev_verifier(&root, source, &[SKILL]);
        let (h, body) = request(Tamper::None, CHAIN_URL, &sign_with_leaf, now());
        let got = reason(verifier.verify(&h, &body, now()).await);
        assert_eq!(got, expected, "{name}");
        assert_eq!(
            reason(verifier.validate_chain(&chain.pem, now())),
            expected,
            "{name} (validate_chain)"
        );
    }
}

#[tokio::test]
async fn rcgen_chain_is_untrusted_in_strict_mode() {
    let chain = build_chain(&LeafSpec::default());
    let mut config = VerifierConfig::new(VerifyMode::Strict);
    config.chain_source = Some(FakeSource::with("/echo.api/test-chain.pem", chain.pem));
    let verifier = RequestVerifier::new(config).unwrap();
    let (h, body) = request(Tamper::None, CHAIN_URL, &sign_with_leaf, now());
    assert_eq!(
        reason(verifier.verify(&h, &body, now()).await),
        "cert_untrusted"
    );
}

#[tokio::test]
async fn chain_source_failures() {
    let chain = build_chain(&LeafSpec::default());
    let mut fake = FakeSource::default();
    fake.chains
        .insert("/echo.api/garbage.pem".into(), b"hello".to_vec());
    fake.chains.insert(
        "/echo.api/broken.pem".into(),
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
    );
    let verifier = dev_verifier(&chain.root_der, Arc::new(fake), &[]);
    let body = body_at(now(), SKILL);
    let sig = sign_with_leaf(&body);
    for (url, expected) in [
        (
            "https://s3.amazonaws.com/echo.api/missing.pem",
            "cert_fetch",
        ),
        (
            "https://s3.amazonaws.com/echo.api/garbage.pem",
            "cert_invalid",
        ),
        (
            "https://s3.amazonaws.com/echo.api/broken.pem",
            "cert_invalid",
        ),
    ] {
        let got = reason(
            verifier
                .verify(&headers(Some(url), Some(&sig)), &body, now())
                .await,
        );
        assert_eq!(got, expected, "{url}");
    }
    // Failures are not cached.
    assert_eq!(verifier.cached_chains(), 0);
}

#[test]
fn error_messages_are_short_and_carry_no_body() {
    let errors = [
        VerifyError::CertUrl("x"),
        VerifyError::CertFetch(FetchError::Timeout),
        VerifyError::CertExpired,
        VerifyError::SignatureMissing,
        VerifyError::BodyInvalid("not a JSON Alexa request"),
        VerifyError::SkillId,
    ];
    for e in errors {
        assert!(e.to_string().len() < 80);
        assert!(!e.reason().is_empty());
    }
}

// ---------------------------------------------------------------------------
// 3. Dev keys

#[tokio::test]
async fn dev_keys_are_created_once_and_verify_in_dev_mode() {
    let dir = tempfile::tempdir().unwrap();
    let keys_dir = dir.path().join("alexa-dev");
    let keys = DevSigningKeys::load_or_create(&keys_dir).unwrap();
    for file in [DEV_CA_CERT_FILE, DEV_CHAIN_FILE, DEV_KEY_FILE] {
        assert!(keys_dir.join(file).is_file(), "{file}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(keys_dir.join(DEV_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        keys.chain_url(),
        "https://s3.amazonaws.com/echo.api/pod-dev-signing-cert.pem"
    );

    // A second call loads the same keys.
    let again = DevSigningKeys::load_or_create(&keys_dir).unwrap();
    assert_eq!(again.ca_cert_der(), keys.ca_cert_der());
    let chain_pem = std::fs::read(keys_dir.join(DEV_CHAIN_FILE)).unwrap();
    let body = body_at(system_now(), SKILL);
    let chain = SigningChain::from_pem(&chain_pem).unwrap();
    chain
        .verify_signature(&body, &STANDARD.decode(again.sign(&body)).unwrap())
        .unwrap();

    // Dev mode with the default (folder) chain source, same table as above.
    let mut config = VerifierConfig::new(keys.dev_mode());
    config.skill_ids = vec![SKILL.to_string()];
    let verifier = RequestVerifier::new(config).unwrap();
    let at = system_now();
    let sign = |b: &[u8]| keys.sign(b);
    for (tamper, expected) in REQUEST_CASES {
        let (h, body) = request(*tamper, keys.chain_url(), &sign, at);
        let got = reason(verifier.verify(&h, &body, at).await);
        assert_eq!(got, *expected, "{tamper:?}");
    }

    // The folder only serves plain file names under /echo.api/.
    let body = body_at(at, SKILL);
    let sig = keys.sign(&body);
    for (url, expected) in [
        (
            "https://s3.amazonaws.com/echo.api/../echo.api/pod-dev-signing-cert.pem",
            "ok",
        ),
        (
            "https://s3.amazonaws.com/echo.api/pod-dev-signing-key.pem",
            "cert_invalid",
        ),
        ("https://s3.amazonaws.com/echo.api/nope.pem", "cert_fetch"),
        ("https://s3.amazonaws.com/echo.api/.hidden", "cert_fetch"),
        ("https://s3.amazonaws.com/echo.api/a%2Fb.pem", "cert_fetch"),
        (
            "https://s3.amazonaws.com/echo.api/sub/file.pem",
            "cert_fetch",
        ),
        ("https://s3.amazonaws.com/echo.api/", "cert_fetch"),
        ("https://s3.amazonaws.com/echo.api/%2e%2e/x.pem", "cert_url"),
    ] {
        let got = reason(
            verifier
                .verify(&headers(Some(url), Some(&sig)), &body, at)
                .await,
        );
        assert_eq!(got, expected, "{url}");
    }

    // Another developer's keys are not trusted.
    let other = DevSigningKeys::load_or_create(&dir.path().join("other")).unwrap();
    let (h, body) = request(Tamper::None, keys.chain_url(), &|b| other.sign(b), at);
    assert_eq!(
        reason(verifier.verify(&h, &body, at).await),
        "signature_invalid"
    );
    let mut config = VerifierConfig::new(VerifyMode::Dev {
        ca_cert: other.ca_cert_der().clone(),
        chain_dir: keys_dir.clone(),
    });
    config.skill_ids = vec![SKILL.to_string()];
    let stranger = RequestVerifier::new(config).unwrap();
    let (h, body) = request(Tamper::None, keys.chain_url(), &sign, at);
    assert_eq!(
        reason(stranger.verify(&h, &body, at).await),
        "cert_untrusted"
    );
}

#[test]
fn dev_keys_refuse_a_half_written_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DEV_CHAIN_FILE), b"x").unwrap();
    assert!(DevSigningKeys::load_or_create(dir.path()).is_err());
}

// ---------------------------------------------------------------------------
// 4. Real Amazon chains at pinned times

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/alexa-echo-api-certs")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn real_amazon_chains_in_strict_mode() {
    // (file, inside the window, just before, just after, expected inside)
    let cases = [
        (
            "echo-api-cert-12.pem",
            "2023-08-01T00:00:00Z",
            "2023-03-15T23:59:59Z",
            "2023-12-24T00:00:00Z",
            "ok",
        ),
        (
            "echo-api-cert-11.pem",
            "2023-01-01T00:00:00Z",
            "2022-06-15T23:59:59Z",
            "2023-06-16T00:00:00Z",
            "ok",
        ),
        (
            "echo-api-cert-10.pem",
            "2022-01-01T00:00:00Z",
            "2021-08-30T23:59:59Z",
            "2022-08-05T00:00:00Z",
            "ok",
        ),
        (
            "echo-api-cert-9.pem",
            "2021-06-01T00:00:00Z",
            "2020-12-10T23:59:59Z",
            "2021-11-17T00:00:00Z",
            "ok",
        ),
        (
            "echo-api-cert-8.pem",
            "2020-09-01T00:00:00Z",
            "2020-03-18T23:59:59Z",
            "2021-03-10T12:00:01Z",
            "ok",
        ),
        (
            "echo-api-cert-2017-symantec.pem",
            "2018-01-15T00:00:00Z",
            "2017-10-02T23:59:59Z",
            "2018-07-04T00:00:00Z",
            "cert_untrusted",
        ),
        (
            "echo-api-cert-2015-verisign.pem",
            "2015-06-01T00:00:00Z",
            "2015-01-30T23:59:59Z",
            "2015-11-01T00:00:00Z",
            "cert_untrusted",
        ),
    ];
    let mut config = VerifierConfig::new(VerifyMode::Strict);
    config.chain_source = Some(Arc::new(FakeSource::default()));
    let verifier = RequestVerifier::new(config).unwrap();
    let public = TrustStore::public_roots();
    for (file, inside, before, after, expected) in cases {
        let pem = fixture(file);
        let chain = SigningChain::from_pem(&pem).unwrap();
        for (at, want) in [
            (inside, expected),
            (before, "cert_not_yet_valid"),
            (after, "cert_expired"),
        ] {
            assert_eq!(
                reason(verifier.validate_chain(&pem, ts(at))),
                want,
                "{file} at {at}"
            );
            assert_eq!(
                reason(chain.validate(&public, ts(at))),
                want,
                "{file} at {at}"
            );
        }
        if expected == "cert_untrusted" {
            // No VeriSign/Symantec root is in today's public root store.
            assert_eq!(
                verifier.validate_chain(&pem, ts(inside)),
                Err(VerifyError::CertUntrusted("no path to a trusted root")),
                "{file}"
            );
        }
        // Today every one of them has expired.
        assert_eq!(
            reason(verifier.validate_chain(&pem, now())),
            "cert_expired",
            "{file} now"
        );
    }
}

#[test]
fn real_amazon_chain_is_untrusted_in_dev_mode() {
    let chain = build_chain(&LeafSpec::default());
    let verifier = dev_verifier(&chain.root_der, Arc::new(FakeSource::default()), &[]);
    let pem = fixture("echo-api-cert-12.pem");
    assert_eq!(
        reason(verifier.validate_chain(&pem, ts("2023-08-01T00:00:00Z"))),
        "cert_untrusted"
    );
}

#[test]
fn real_chain_signature_cannot_be_forged_with_another_key() {
    let pem = fixture("echo-api-cert-12.pem");
    let chain = SigningChain::from_pem(&pem).unwrap();
    assert_eq!(chain.certs().len(), 4);
    let body = b"{}";
    let forged = keys().leaf.sign(body).unwrap();
    assert_eq!(
        reason(chain.verify_signature(body, &forged)),
        "signature_invalid"
    );
}

// ---------------------------------------------------------------------------
// 5. The cache

#[tokio::test]
async fn cache_avoids_refetching_and_is_bounded() {
    let chain = build_chain(&LeafSpec::default());
    let mut fake = FakeSource::default();
    for name in ["a", "b", "c"] {
        fake.chains
            .insert(format!("/echo.api/{name}.pem"), chain.pem.clone());
    }
    let fake = Arc::new(fake);
    let mut config = VerifierConfig::new(VerifyMode::Dev {
        ca_cert: chain.root_der.clone(),
        chain_dir: "/nonexistent".into(),
    });
    config.cache_capacity = 2;
    config.chain_source = Some(fake.clone());
    let verifier = RequestVerifier::new(config).unwrap();
    let body = body_at(now(), SKILL);
    let sig = sign_with_leaf(&body);
    let url = |n: &str| format!("https://s3.amazonaws.com/echo.api/{n}.pem");
    let check = |u: String| {
        let h = headers(Some(&u), Some(&sig));
        let verifier = &verifier;
        let body = &body;
        async move { reason(verifier.verify(&h, body, now()).await) }
    };

    assert_eq!(check(url("a")).await, "ok");
    assert_eq!(check(url("a")).await, "ok");
    // The same URL spelled differently is the same cache entry.
    assert_eq!(
        check("HTTPS://S3.amazonaws.com:443/echo.api/../echo.api/a.pem".into()).await,
        "ok"
    );
    assert_eq!(fake.fetches(), 1);

    assert_eq!(check(url("b")).await, "ok");
    assert_eq!(fake.fetches(), 2);
    assert_eq!(verifier.cached_chains(), 2);
    // A third URL evicts the least recently used ("a").
    assert_eq!(check(url("c")).await, "ok");
    assert_eq!(fake.fetches(), 3);
    assert_eq!(verifier.cached_chains(), 2);
    assert_eq!(check(url("b")).await, "ok");
    assert_eq!(fake.fetches(), 3);
    assert_eq!(check(url("a")).await, "ok");
    assert_eq!(fake.fetches(), 4);
    assert_eq!(verifier.cached_chains(), 2);
}

#[tokio::test]
async fn expired_cached_chain_is_fetched_again_never_served() {
    let chain = build_chain(&LeafSpec::default());
    let source = FakeSource::with("/echo.api/test-chain.pem", chain.pem.clone());
    let verifier = dev_verifier(&chain.root_der, source.clone(), &[]);
    let later = ts("2027-01-01T00:00:01Z");
    let (h, body) = request(Tamper::None, CHAIN_URL, &sign_with_leaf, now());
    assert_eq!(reason(verifier.verify(&h, &body, now()).await), "ok");
    // Amazon still serves the expired chain: fetched again once, refused.
    let (h, body) = request(Tamper::None, CHAIN_URL, &sign_with_leaf, later);
    assert_eq!(
        reason(verifier.verify(&h, &body, later).await),
        "cert_expired"
    );
    assert_eq!(source.fetches(), 2);
    assert_eq!(verifier.cached_chains(), 1);
}

/// A chain source whose chain can be replaced, counting fetches and
/// taking a while to answer (so that concurrent callers overlap).
#[derive(Debug)]
struct SwappableSource {
    pem: std::sync::Mutex<Vec<u8>>,
    fetches: AtomicUsize,
    delay: Duration,
}

impl SwappableSource {
    fn new(pem: Vec<u8>, delay: Duration) -> Arc<Self> {
        Arc::new(SwappableSource {
            pem: std::sync::Mutex::new(pem),
            fetches: AtomicUsize::new(0),
            delay,
        })
    }
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl ChainSource for SwappableSource {
    async fn fetch(&self, _url: &Url) -> Result<Vec<u8>, FetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        Ok(self.pem.lock().unwrap().clone())
    }
}

fn verifier_with(root: &CertificateDer<'static>, source: Arc<SwappableSource>) -> RequestVerifier {
    let mut config = VerifierConfig::new(VerifyMode::Dev {
        ca_cert: root.clone(),
        chain_dir: "/nonexistent".into(),
    });
    config.chain_source = Some(source);
    RequestVerifier::new(config).unwrap()
}

#[tokio::test]
async fn expired_cached_chain_is_replaced_by_the_renewed_one() {
    let old = build_chain(&LeafSpec::default());
    let source = SwappableSource::new(old.pem.clone(), Duration::ZERO);
    let verifier = verifier_with(&old.root_der, source.clone());
    let (h, body) = request(Tamper::None, CHAIN_URL, &sign_with_leaf, now());
    assert_eq!(reason(verifier.verify(&h, &body, now()).await), "ok");
    assert_eq!(source.fetches(), 1);

    // Amazon renewed the chain at the same URL; the cached one expires.
    let renewed = build_chain(&LeafSpec {
        not_after: (2029, 1, 1),
        ..LeafSpec::default()
    });
    *source.pem.lock().unwrap() = renewed.pem.clone();
    let later = ts("2027-06-01T00:00:00Z");
    let (h, body) = request(Tamper::None, CHAIN_URL, &sign_with_leaf, later);
    assert_eq!(reason(verifier.verify(&h, &body, later).await), "ok");
    assert_eq!(source.fetches(), 2);
    // And the renewed chain is cached from then on.
    let (h, body) = request(Tamper::None, CHAIN_URL, &sign_with_leaf, later);
    assert_eq!(reason(verifier.verify(&h, &body, later).await), "ok");
    assert_eq!(source.fetches(), 2);
    assert_eq!(verifier.cached_chains(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_for_one_new_url_fetch_it_once() {
    let chain = build_chain(&LeafSpec::default());
    let source = SwappableSource::new(chain.pem.clone(), Duration::from_millis(200));
    let verifier = Arc::new(verifier_with(&chain.root_der, source.clone()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let verifier = verifier.clone();
        tasks.spawn(async move {
            let (h, body) = request(Tamper::None, CHAIN_URL, &sign_with_leaf, now());
            reason(verifier.verify(&h, &body, now()).await)
        });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap(), "ok");
    }
    assert_eq!(source.fetches(), 1);
}

#[tokio::test]
async fn chain_url_with_query_or_fragment_is_refused_without_fetching() {
    let chain = build_chain(&LeafSpec::default());
    let source = FakeSource::with("/echo.api/test-chain.pem", chain.pem.clone());
    let verifier = dev_verifier(&chain.root_der, source.clone(), &[]);
    for url in [
        "https://s3.amazonaws.com/echo.api/test-chain.pem?x=1",
        "https://s3.amazonaws.com/echo.api/test-chain.pem?",
        "https://s3.amazonaws.com/echo.api/test-chain.pem#f",
        "https://s3.amazonaws.com/echo.api/test-chain.pem#",
    ] {
        assert!(check_chain_url(url).is_err(), "{url}");
        let (h, body) = request(Tamper::None, url, &sign_with_leaf, now());
        assert_eq!(
            reason(verifier.verify(&h, &body, now()).await),
            "cert_url",
            "{url}"
        );
    }
    assert_eq!(source.fetches(), 0);
    assert_eq!(verifier.cached_chains(), 0);
}

#[tokio::test]
async fn zero_capacity_cache_fetches_every_time() {
    let chain = build_chain(&LeafSpec::default());
    let source = FakeSource::with("/echo.api/test-chain.pem", chain.pem.clone());
    let mut config = VerifierConfig::new(VerifyMode::Dev {
        ca_cert: chain.root_der.clone(),
        chain_dir: "/nonexistent".into(),
    });
    config.cache_capacity = 0;
    config.chain_source = Some(source.clone());
    let verifier = RequestVerifier::new(config).unwrap();
    for _ in 0..3 {
        let (h, body) = request(Tamper::None, CHAIN_URL, &sign_with_leaf, now());
        assert_eq!(reason(verifier.verify(&h, &body, now()).await), "ok");
    }
    assert_eq!(source.fetches(), 3);
}

// ---------------------------------------------------------------------------
// 6. Modes and configuration

#[tokio::test]
async fn off_mode_skips_signatures_but_checks_time_and_skill() {
    let mut config = VerifierConfig::new(VerifyMode::Off);
    config.skill_ids = vec![SKILL.to_string()];
    let verifier = RequestVerifier::new(config).unwrap();
    let none = HeaderMap::new();
    let junk = headers(Some("http://evil.example/x"), Some("???"));
    for h in [&none, &junk] {
        assert_eq!(
            reason(verifier.verify(h, &body_at(now(), SKILL), now()).await),
            "ok"
        );
    }
    let old = body_at(
        Timestamp::from_unix_seconds(now().unix_seconds() - 151),
        SKILL,
    );
    assert_eq!(
        reason(verifier.verify(&none, &old, now()).await),
        "timestamp"
    );
    let other = body_at(now(), "amzn1.ask.skill.other");
    assert_eq!(
        reason(verifier.verify(&none, &other, now()).await),
        "skill_id"
    );
    assert_eq!(
        reason(verifier.verify(&none, b"<xml/>", now()).await),
        "body_invalid"
    );
    assert_eq!(
        reason(verifier.validate_chain(b"", now())),
        "cert_untrusted"
    );
}

#[tokio::test]
async fn empty_skill_list_skips_the_skill_check() {
    let verifier = RequestVerifier::new(VerifierConfig::new(VerifyMode::Off)).unwrap();
    let body = body_at(now(), "amzn1.ask.skill.anything");
    assert_eq!(
        reason(verifier.verify(&HeaderMap::new(), &body, now()).await),
        "ok"
    );
}

#[tokio::test]
async fn timestamp_tolerance_can_be_lowered_but_not_raised() {
    let mut config = VerifierConfig::new(VerifyMode::Off);
    config.timestamp_tolerance = Duration::from_secs(151);
    assert!(matches!(
        RequestVerifier::new(config),
        Err(ConfigError::ToleranceTooLarge(_))
    ));

    let mut config = VerifierConfig::new(VerifyMode::Off);
    config.timestamp_tolerance = Duration::from_secs(10);
    let verifier = RequestVerifier::new(config).unwrap();
    let h = HeaderMap::new();
    for (offset_ms, expected) in [
        (-10_000, "ok"),
        (10_000, "ok"),
        (-10_001, "timestamp"),
        (10_001, "timestamp"),
        (0, "ok"),
    ] {
        let at = Timestamp::from_unix_millis(now().unix_millis() + offset_ms);
        let got = reason(verifier.verify(&h, &body_at(at, SKILL), now()).await);
        assert_eq!(got, expected, "{offset_ms} ms");
    }
}

#[test]
fn dev_mode_with_garbage_ca_is_a_config_error() {
    let config = VerifierConfig::new(VerifyMode::Dev {
        ca_cert: CertificateDer::from(vec![1, 2, 3]),
        chain_dir: "/nonexistent".into(),
    });
    assert!(matches!(
        RequestVerifier::new(config),
        Err(ConfigError::DevCa)
    ));
}

// ---------------------------------------------------------------------------
// 7. The reqwest fetcher against local servers

#[tokio::test]
async fn reqwest_fetcher_against_local_server() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let chain = build_chain(&LeafSpec::default());
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/echo.api/test-chain.pem"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(chain.pem.clone()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/echo.api/huge.pem"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'A'; 100 * 1024]))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/echo.api/moved.pem"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", "/echo.api/test-chain.pem"),
        )
        .mount(&server)
        .await;

    let base = Url::parse(&server.uri()).unwrap();
    let fetcher = HttpChainSource::with_base_url(base, Duration::from_secs(2)).unwrap();
    let missing = check_chain_url("https://s3.amazonaws.com/echo.api/missing.pem").unwrap();
    assert_eq!(fetcher.fetch(&missing).await, Err(FetchError::Status(404)));
    let huge = check_chain_url("https://s3.amazonaws.com/echo.api/huge.pem").unwrap();
    assert_eq!(fetcher.fetch(&huge).await, Err(FetchError::TooLarge));
    let moved = check_chain_url("https://s3.amazonaws.com/echo.api/moved.pem").unwrap();
    assert_eq!(fetcher.fetch(&moved).await, Err(FetchError::Status(302)));

    // Full verification through the fetcher; the second request hits the cache.
    let mut config = VerifierConfig::new(VerifyMode::Dev {
        ca_cert: chain.root_der.clone(),
        chain_dir: "/nonexistent".into(),
    });
    config.chain_source = Some(Arc::new(fetcher));
    let verifier = RequestVerifier::new(config).unwrap();
    for _ in 0..2 {
        let (h, body) = request(Tamper::None, CHAIN_URL, &sign_with_leaf, now());
        assert_eq!(reason(verifier.verify(&h, &body, now()).await), "ok");
    }
    server.verify().await;
}

#[tokio::test]
async fn reqwest_fetcher_times_out_on_a_silent_server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept connections and hold them open without ever answering.
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let base = Url::parse(&format!("http://{addr}")).unwrap();
    let fetcher = HttpChainSource::with_base_url(base, Duration::from_millis(300)).unwrap();
    let url = check_chain_url(CHAIN_URL).unwrap();
    assert_eq!(fetcher.fetch(&url).await, Err(FetchError::Timeout));

    let mut config = VerifierConfig::new(VerifyMode::Strict);
    config.chain_source = Some(Arc::new(fetcher));
    let verifier = RequestVerifier::new(config).unwrap();
    let (h, body) = request(Tamper::None, CHAIN_URL, &sign_with_leaf, now());
    assert_eq!(
        reason(verifier.verify(&h, &body, now()).await),
        "cert_fetch"
    );
    server.abort();
}

// ---------------------------------------------------------------------------
// 8. Properties

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    })
}

fn fuzz_verifier() -> &'static RequestVerifier {
    static V: OnceLock<RequestVerifier> = OnceLock::new();
    V.get_or_init(|| {
        let chain = build_chain(&LeafSpec::default());
        let mut fake = FakeSource::default();
        fake.chains
            .insert("/echo.api/test-chain.pem".into(), chain.pem.clone());
        fake.chains
            .insert("/echo.api/junk.pem".into(), b"-----BEGIN".to_vec());
        dev_verifier(&chain.root_der, Arc::new(fake), &[SKILL])
    })
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80),
        "https://s3\\.amazonaws\\.com(:[0-9]{1,5})?/echo\\.api/[a-z./%-]{0,20}"
            .prop_map(String::into_bytes),
        "[A-Za-z0-9+/=]{0,400}".prop_map(String::into_bytes),
        Just(CHAIN_URL.as_bytes().to_vec()),
    ]
}

fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        "\\{\"request\":\\{\"timestamp\":\"[0-9T:.Z+-]{0,30}\"\\}\\}".prop_map(String::into_bytes),
        Just(body_at(now(), SKILL)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn verify_never_panics(
        url in header_value(),
        sig in header_value(),
        legacy in proptest::option::of(header_value()),
        body in body_bytes(),
        offset in -1_000_000i64..1_000_000,
    ) {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(&url) {
            h.insert(HeaderName::from_static("signaturecertchainurl"), v);
        }
        if let Ok(v) = HeaderValue::from_bytes(&sig) {
            h.insert(HeaderName::from_static("signature-256"), v);
        }
        if let Some(Ok(v)) = legacy.map(|l| HeaderValue::from_bytes(&l)) {
            h.insert(HeaderName::from_static("signature"), v);
        }
        let at = Timestamp::from_unix_millis(now().unix_millis() + offset);
        let result = runtime().block_on(fuzz_verifier().verify(&h, &body, at));
        // Nothing random carries a valid signature.
        prop_assert!(result.is_err());
    }

    #[test]
    fn chain_parsing_never_panics(pem in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = SigningChain::from_pem(&pem);
    }

    #[test]
    fn iso8601_round_trips(millis in -62_167_219_200_000i64..253_402_300_799_999) {
        let at = Timestamp::from_unix_millis(millis);
        let text = format_iso8601(at);
        prop_assert_eq!(parse_iso8601(&text), Some(at), "{}", text);
    }

    #[test]
    fn iso8601_whole_seconds_and_offsets(
        secs in 0i64..4_102_444_800,
        offset_min in -(23 * 60 + 59)..=(23 * 60 + 59i64),
        digits in 0usize..=9,
    ) {
        // Render `secs` as local time at `offset_min`, then parse it back.
        let local = Timestamp::from_unix_seconds(secs + offset_min * 60);
        let text = format_iso8601(local);
        let base = &text[..19];
        let frac = if digits == 0 { String::new() } else { format!(".{}", "0".repeat(digits)) };
        let sign = if offset_min < 0 { '-' } else { '+' };
        let abs = offset_min.abs();
        let full = format!("{base}{frac}{sign}{:02}:{:02}", abs / 60, abs % 60);
        prop_assert_eq!(parse_iso8601(&full), Some(Timestamp::from_unix_seconds(secs)), "{}", full);
    }

    #[test]
    fn iso8601_never_panics(text in "\\PC{0,40}") {
        let _ = parse_iso8601(&text);
    }

    #[test]
    fn iso8601_near_misses_never_panic(text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?([Zz]|[+-][0-9]{2}:?[0-9]{2})?") {
        if let Some(at) = parse_iso8601(&text) {
            // Anything accepted formats back to an accepted string.
            prop_assert!(parse_iso8601(&format_iso8601(at)).is_some());
        }
    }
}

#[test]
fn verifier_is_shareable_and_its_future_is_send() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: T) {}
    let verifier = RequestVerifier::new(VerifierConfig::new(VerifyMode::Off)).unwrap();
    assert_send_sync(&verifier);
    let h = HeaderMap::new();
    assert_send(verifier.verify(&h, b"{}", now()));
}

// ---------------------------------------------------------------------------
// 9. The verified request carries the envelope, parsed once

#[tokio::test]
async fn a_verified_request_carries_its_typed_envelope() {
    let chain = build_chain(&LeafSpec::default());
    let source = FakeSource::with("/echo.api/test-chain.pem", chain.pem.clone());
    let verifier = dev_verifier(&chain.root_der, source, &[SKILL]);
    let (h, body) = request(Tamper::None, CHAIN_URL, &sign_with_leaf, now());
    let verified = verifier.verify(&h, &body, now()).await.unwrap();
    assert!(verified.signature_checked());
    let envelope = verified.envelope();
    assert!(matches!(envelope.request, Request::Launch(_)));
    assert_eq!(envelope.request.request_id(), Some("r"));
    assert_eq!(envelope.application_id(), Some(SKILL));

    let off = RequestVerifier::new(VerifierConfig::new(VerifyMode::Off)).unwrap();
    let verified = off
        .verify(&HeaderMap::new(), &body_at(now(), SKILL), now())
        .await
        .unwrap();
    assert!(!verified.signature_checked());
    assert_eq!(
        verified.into_envelope().request.type_name(),
        "LaunchRequest"
    );
}

#[tokio::test]
async fn a_body_that_is_not_an_envelope_names_the_first_check_it_fails() {
    let mut config = VerifierConfig::new(VerifyMode::Off);
    config.skill_ids = vec![SKILL.to_string()];
    let verifier = RequestVerifier::new(config).unwrap();
    let at = format_iso8601(now());
    let old = format_iso8601(Timestamp::from_unix_seconds(now().unix_seconds() - 600));
    let app = format!(r#""context":{{"System":{{"application":{{"applicationId":"{SKILL}"}}}}}}"#);
    let cases = [
        // No request type: only the shape is wrong.
        (
            format!(r#"{{{app},"request":{{"timestamp":"{at}"}}}}"#),
            Err(("body_invalid", "not an Alexa request envelope")),
        ),
        // A field of the wrong type.
        (
            format!(
                r#"{{{app},"request":{{"type":"IntentRequest","timestamp":"{at}","intent":{{"name":7}}}}}}"#
            ),
            Err(("body_invalid", "not an Alexa request envelope")),
        ),
        // Not an envelope, and stale: the timestamp is named first.
        (
            format!(r#"{{{app},"request":{{"timestamp":"{old}"}}}}"#),
            Err(("timestamp", "request timestamp rejected: too old")),
        ),
        // Not an envelope, and for another skill.
        (
            format!(r#"{{"request":{{"timestamp":"{at}"}}}}"#),
            Err(("skill_id", "request is for another skill")),
        ),
        // A wrong type where the verifier itself reads: not JSON it knows.
        (
            format!(r#"{{{app},"request":{{"type":"LaunchRequest","timestamp":7}}}}"#),
            Err((
                "body_invalid",
                "invalid request body: not a JSON Alexa request",
            )),
        ),
        (
            format!(
                r#"{{{app},"request":{{"type":"Messaging.MessageReceived","timestamp":"{at}"}}}}"#
            ),
            Ok("Messaging.MessageReceived"),
        ),
    ];
    for (body, expected) in cases {
        let got = verifier
            .verify(&HeaderMap::new(), body.as_bytes(), now())
            .await;
        match (got, expected) {
            (Ok(verified), Ok(kind)) => {
                assert_eq!(verified.envelope().request.type_name(), kind, "{body}")
            }
            (Err(error), Err((reason, message))) => {
                assert_eq!(
                    (error.reason(), error.to_string().as_str()),
                    (reason, message),
                    "{body}"
                )
            }
            (got, expected) => panic!("{body}: got {got:?}, expected {expected:?}"),
        }
    }
}

#[path = "verify/faults.rs"]
mod faults;
// ---------------------------------------------------------------------------
// 7. Skill events may be up to an hour old; nothing else may

fn event_at(at: Timestamp, kind: &str) -> Vec<u8> {
    format!(
        r#"{{"version":"1.0","context":{{"System":{{"application":{{"applicationId":"{SKILL}"}},"user":{{"userId":"amzn1.ask.account.A"}}}}}},"request":{{"type":"{kind}","requestId":"r","timestamp":"{}","eventCreationTime":"{}","eventPublishingTime":"{}"}}}}"#,
        format_iso8601(at),
        format_iso8601(at),
        format_iso8601(at),
    )
    .into_bytes()
}

fn seconds_from(at: Timestamp, secs: i64) -> Timestamp {
    Timestamp::from_unix_millis(at.unix_millis() + secs * 1000)
}

#[tokio::test]
async fn signed_skill_events_may_be_an_hour_old_but_no_older_and_never_from_the_future() {
    let chain = build_chain(&LeafSpec::default());
    let source = FakeSource::with("/echo.api/test-chain.pem", chain.pem.clone());
    let verifier = dev_verifier(&chain.root_der, source, &[SKILL]);
    for kind in [
        "AlexaSkillEvent.SkillEnabled",
        "AlexaSkillEvent.SkillDisabled",
        "AlexaSkillEvent.SkillAccountLinked",
        "AlexaSkillEvent.SkillPermissionAccepted",
        "AlexaSkillEvent.SkillPermissionChanged",
    ] {
        for (offset, expected) in [
            (0, "ok"),
            (-151, "ok"),
            (-1800, "ok"),
            (-3600, "ok"),
            (-3601, "timestamp"),
            (150, "ok"),
            (151, "timestamp"),
        ] {
            let body = event_at(seconds_from(now(), offset), kind);
            let h = headers(Some(CHAIN_URL), Some(&sign_with_leaf(&body)));
            let got = reason(verifier.verify(&h, &body, now()).await);
            assert_eq!(got, expected, "{kind} at {offset} s");
        }
        // The signature is still checked on an old event.
        let body = event_at(seconds_from(now(), -600), kind);
        let h = headers(Some(CHAIN_URL), Some(&sign_with_leaf(b"other bytes")));
        assert_eq!(
            reason(verifier.verify(&h, &body, now()).await),
            "signature_invalid"
        );
    }
}

#[tokio::test]
async fn only_the_typed_skill_events_get_the_hour() {
    let mut config = VerifierConfig::new(VerifyMode::Off);
    config.skill_ids = vec![SKILL.to_string()];
    config.timestamp_tolerance = Duration::from_secs(10);
    let verifier = RequestVerifier::new(config).unwrap();
    let h = HeaderMap::new();
    let old = seconds_from(now(), -600);
    // Other request types, an unknown skill event type, and a body that is
    // not an envelope but names a skill event keep the ordinary tolerance.
    for kind in [
        "LaunchRequest",
        "IntentRequest",
        "CanFulfillIntentRequest",
        "AlexaSkillEvent.SkillSomethingNew",
        "AudioPlayer.PlaybackStarted",
    ] {
        let body = event_at(old, kind);
        assert_eq!(
            reason(verifier.verify(&h, &body, now()).await),
            "timestamp",
            "{kind}"
        );
    }
    let not_an_envelope = format!(
        r#"{{"request":{{"type":"AlexaSkillEvent.SkillEnabled","timestamp":"{}","body":3}}}}"#,
        format_iso8601(old)
    );
    assert_eq!(
        reason(verifier.verify(&h, not_an_envelope.as_bytes(), now()).await),
        "timestamp"
    );
    // A skill event an hour old passes even with a 10 s tolerance, but one
    // 11 s ahead does not.
    let body = event_at(seconds_from(now(), -3600), "AlexaSkillEvent.SkillDisabled");
    assert_eq!(reason(verifier.verify(&h, &body, now()).await), "ok");
    let body = event_at(seconds_from(now(), 11), "AlexaSkillEvent.SkillDisabled");
    assert_eq!(reason(verifier.verify(&h, &body, now()).await), "timestamp");
    // And the skill id is checked on events too.
    let mut config = VerifierConfig::new(VerifyMode::Off);
    config.skill_ids = vec!["amzn1.ask.skill.other".to_string()];
    let strict_skill = RequestVerifier::new(config).unwrap();
    let body = event_at(now(), "AlexaSkillEvent.SkillEnabled");
    assert_eq!(
        reason(strict_skill.verify(&h, &body, now()).await),
        "skill_id"
    );
}
