//! The real server sends a progressive response when an order is slow: the
//! code's email waits at an SMTP server that answers only once Alexa's
//! directive service (a wiremock fake, allowed by
//! `POD_ALEXA_API_TEST_ENDPOINT`) has the directive. No time is asserted:
//! the order is slow for exactly as long as the test holds the mail.

use pod_ports::testing::smtp::fake_smtp;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{PATIENCE, Spawn};
use crate::{ORDER, RECEIVED_EMAIL, speech};

/// An SMTP server that lets its first client in only when the gate opens:
/// its port, and the gate.
async fn held_smtp() -> (u16, oneshot::Sender<()>) {
    let (smtp, _mail) = fake_smtp().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (open, gate) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let Ok((mut client, _)) = listener.accept().await else {
            return;
        };
        gate.await.ok();
        let mut server = TcpStream::connect(("127.0.0.1", smtp)).await.unwrap();
        tokio::io::copy_bidirectional(&mut client, &mut server)
            .await
            .ok();
    });
    (port, open)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_order_makes_alexa_say_one_moment() {
    let directives = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/directives"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&directives)
        .await;
    let (smtp_port, open_smtp) = held_smtp().await;
    let app = Spawn::serve()
        .env("POD_SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}"))
        .env("POD_PROGRESSIVE_AFTER", "1ms")
        .env("POD_ALEXA_API_TEST_ENDPOINT", directives.uri())
        .start()
        .await;
    let token = app.token("demo").await;
    let mut alexa = app.alexa(Some(&token));
    let order = alexa.model().understand(ORDER);
    let mut envelope = alexa.envelope(&order);
    let system = envelope
        .context
        .as_mut()
        .and_then(|c| c.system.as_mut())
        .expect("context.System");
    system.api_endpoint = Some(directives.uri());
    system.api_access_token = Some("api-access-token".into());
    let request_id = envelope.request.request_id().unwrap().to_owned();
    let body = serde_json::to_vec(&envelope).unwrap();
    let answer = tokio::spawn(async move { alexa.post_signed(&body).await.unwrap() });

    let received = tokio::time::timeout(PATIENCE, async {
        loop {
            let received = directives.received_requests().await.unwrap_or_default();
            if !received.is_empty() {
                return received;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a directive while the order waits for its mail");
    open_smtp.send(()).unwrap();
    let answer = answer.await.unwrap();
    assert_eq!(speech(&answer), RECEIVED_EMAIL);

    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].headers.get("authorization").unwrap(),
        "Bearer api-access-token"
    );
    let directive: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(
        directive,
        serde_json::json!({
            "header": {"requestId": request_id},
            "directive": {
                "type": "VoicePlayer.Speak",
                "speech": "<speak>One moment while I send your code.</speak>"
            }
        })
    );
    assert!(
        !app.stderr_text().contains("api-access-token"),
        "the token is never logged"
    );
}
