//! The certificate URL's host unreachable: the request is refused with
//! `cert_fetch` (a 400 at `/alexa`), nothing is cached for the URL (no
//! poisoned entry), and once the host answers the chain is fetched and
//! requests verify; the cached chain then outlives the next outage.

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

/// A loopback address nothing listens on (for now).
fn closed_addr() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A chain host on `addr` serving `pem` at the test chain URL's path.
async fn chain_host(addr: std::net::SocketAddr, pem: &[u8]) -> MockServer {
    let server = MockServer::builder()
        .listener(std::net::TcpListener::bind(addr).unwrap())
        .start()
        .await;
    Mock::given(method("GET"))
        .and(path("/echo.api/test-chain.pem"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(pem.to_vec()))
        .mount(&server)
        .await;
    server
}

fn verifier(mode: VerifyMode, addr: std::net::SocketAddr) -> RequestVerifier {
    let base = Url::parse(&format!("http://{addr}")).unwrap();
    let mut config = VerifierConfig::new(mode);
    config.chain_source = Some(Arc::new(
        HttpChainSource::with_base_url(base, Duration::from_millis(500)).unwrap(),
    ));
    RequestVerifier::new(config).unwrap()
}

async fn verify_reason(verifier: &RequestVerifier) -> &'static str {
    let (h, body) = request(Tamper::None, CHAIN_URL, &sign_with_leaf, now());
    reason(verifier.verify(&h, &body, now()).await)
}

#[tokio::test]
async fn an_unreachable_chain_host_refuses_the_request_caches_nothing_and_recovers() {
    let chain = build_chain(&LeafSpec::default());
    let dev = VerifyMode::Dev {
        ca_cert: chain.root_der.clone(),
        chain_dir: "/nonexistent".into(),
    };
    for (mode, healthy) in [
        // Strict mode trusts only the public roots, which the test chain
        // does not lead to: once the host answers, the request gets past the
        // fetch and fails on trust instead.
        (VerifyMode::Strict, "cert_untrusted"),
        // The same fetch and cache with the test CA trusted: it verifies.
        (dev, "ok"),
    ] {
        let addr = closed_addr();
        let verifier = verifier(mode, addr);
        for _ in 0..2 {
            assert_eq!(verify_reason(&verifier).await, "cert_fetch");
            assert_eq!(verifier.cached_chains(), 0, "no poisoned cache entry");
        }

        let host = chain_host(addr, &chain.pem).await;
        assert_eq!(verify_reason(&verifier).await, healthy);
        assert_eq!(verifier.cached_chains(), 1);
        assert_eq!(verify_reason(&verifier).await, healthy);
        assert_eq!(
            host.received_requests().await.unwrap().len(),
            1,
            "fetched once, then served from the cache"
        );

        // Another outage: the cached chain keeps verifying.
        drop(host);
        assert_eq!(verify_reason(&verifier).await, healthy);
    }
}
