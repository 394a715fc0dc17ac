//! What a public listener shows: `/metrics` is for operators, so a server
//! listening on a public address serves it only on `POD_METRICS_LISTEN`.

use crate::support::Spawn;

/// `pod serve` on every address (the `--listen` flag wins over POD_LISTEN).
fn serve_publicly() -> Spawn {
    Spawn::default().args(["serve", "--listen", "0.0.0.0:0"])
}

/// A free loopback port for `POD_METRICS_LISTEN` (pod prints only its main
/// address).
fn free_loopback_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test]
async fn a_public_listener_never_serves_metrics_and_the_private_one_does() {
    // Alone on a public address: no /metrics anywhere.
    let public = serve_publicly().start().await;
    let health = public
        .client
        .get(public.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let metrics = public
        .client
        .get(public.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 404, "metrics on the public listener");
    drop(public);

    // With a private metrics address: there, and still not on the public one.
    let port = free_loopback_port();
    let both = serve_publicly()
        .env("POD_METRICS_LISTEN", format!("127.0.0.1:{port}"))
        .start()
        .await;
    let public = both.client.get(both.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404, "metrics on the public listener");
    let private = both
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(private.status(), 200);
    let text = private.text().await.unwrap();
    assert!(text.contains("pod_"), "not pod's metrics:\n{text}");
}
