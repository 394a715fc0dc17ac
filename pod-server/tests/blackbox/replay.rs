//! Replayed Alexa requests through the real servers: a signed request
//! posted again, to the same server or to another one on the same
//! database, gets the first answer byte for byte and changes nothing.

use pod_alexa::verify::DevSigningKeys;
use pod_server::simulate::Utterance;

use crate::support::TestApp;
use crate::{RECEIVED_EMAIL, order_intent};

/// Posts these exact bytes, signed, to `server`'s `/alexa`: the status and
/// the exact body.
async fn post_signed(server: &TestApp, keys: &DevSigningKeys, body: &[u8]) -> (u16, String) {
    let response = server
        .client
        .post(server.url("/alexa"))
        .header("content-type", "application/json")
        .header("SignatureCertChainUrl", keys.chain_url())
        .header("Signature-256", keys.sign(body))
        .body(body.to_vec())
        .send()
        .await
        .expect("an HTTP answer");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

fn speech(body: &str) -> String {
    let answer: serde_json::Value = serde_json::from_str(body).expect("JSON");
    answer["response"]["outputSpeech"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A signed request body for `utterance` from the holder of `token`, with
/// a request id of its own.
fn body(server: &TestApp, token: &str, utterance: &Utterance) -> Vec<u8> {
    let mut alexa = server.alexa(Some(token));
    serde_json::to_vec(&alexa.envelope(utterance)).expect("JSON")
}

#[tokio::test]
async fn a_request_posted_twice_to_one_server_is_answered_once() {
    let app = TestApp::spawn().await;
    let token = app.token("demo").await;
    let keys = app.dev_keys();
    let order = body(&app, &token, &order_intent());
    let (status, first) = post_signed(&app, &keys, &order).await;
    assert_eq!((status, speech(&first).as_str()), (200, RECEIVED_EMAIL));
    assert_eq!(post_signed(&app, &keys, &order).await, (200, first));
    assert_eq!(app.outbox().len(), 1, "one code sent");
    assert!(
        app.metrics()
            .await
            .contains(r#"pod_alexa_replays_total{outcome="answered_again"} 1"#)
    );
}

#[cfg(not(pod_skip_postgres))]
mod cluster {
    use std::collections::BTreeSet;

    use super::*;
    use crate::support::cluster::Cluster;

    fn authorize(code: &str) -> Utterance {
        Utterance::Intent {
            name: "AuthorizePizzaOrderIntent".into(),
            slots: vec![("Code".into(), code.to_owned())],
        }
    }

    /// How many of the customer's orders the database holds, and how many
    /// of them wait for a code.
    async fn orders(cluster: &Cluster, customer: &str) -> (i64, i64) {
        let mut conn = cluster.db.connect().await;
        sqlx::query_as(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE state = 'awaiting_code') \
             FROM orders WHERE customer_id = $1",
        )
        .bind(customer)
        .fetch_one(&mut conn)
        .await
        .expect("the order counts")
    }

    /// The failed attempts of the customer's order awaiting its code.
    async fn failed_attempts(cluster: &Cluster, customer: &str) -> i64 {
        let mut conn = cluster.db.connect().await;
        sqlx::query_scalar(
            "SELECT failed_attempts FROM orders \
             WHERE customer_id = $1 AND state = 'awaiting_code'",
        )
        .bind(customer)
        .fetch_one(&mut conn)
        .await
        .expect("the pending order")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_same_signed_request_on_two_servers_is_answered_once() {
        let cluster = Cluster::with(2).start().await;
        let (a, b) = (&cluster.servers[0], &cluster.servers[1]);
        let token = cluster.front.token("demo").await;
        let keys = cluster.front.dev_keys();

        // An order to one server, then the same bytes to the other.
        let order = body(a, &token, &order_intent());
        let (status, first) = post_signed(a, &keys, &order).await;
        assert_eq!((status, speech(&first).as_str()), (200, RECEIVED_EMAIL));
        let (status, again) = post_signed(b, &keys, &order).await;
        assert_eq!((status, again.as_str()), (200, first.as_str()), "identical");
        assert_eq!(cluster.front.outbox().len(), 1, "one code in the outbox");
        assert_eq!(
            orders(&cluster, "local|demo").await,
            (1, 1),
            "one pending order"
        );

        // A wrong code to both servers at once: whichever copy comes
        // second gets the first's answer (or, if that is still being
        // worked out after the wait, a 409); it counts once either way.
        let code = cluster.front.last_code().code;
        let wrong = body(a, &token, &authorize(&crate::wrong_code(&code)));
        let (on_a, on_b) =
            tokio::join!(post_signed(a, &keys, &wrong), post_signed(b, &keys, &wrong));
        let answered: BTreeSet<_> = [&on_a, &on_b]
            .into_iter()
            .filter(|(status, _)| *status == 200)
            .map(|(_, body)| body.clone())
            .collect();
        assert_eq!(answered.len(), 1, "one answer: {on_a:?} {on_b:?}");
        let said = speech(answered.first().unwrap());
        assert!(said.contains("2 attempts left"), "{said}");
        for (status, body) in [&on_a, &on_b] {
            assert!(
                *status == 200 || (*status == 409 && body.contains("request_in_progress")),
                "{status} {body}"
            );
        }
        assert_eq!(
            failed_attempts(&cluster, "local|demo").await,
            1,
            "counted once"
        );
        // And a third time, on either server: the same answer.
        for server in [a, b] {
            let (status, body) = post_signed(server, &keys, &wrong).await;
            assert_eq!((status, &body), (200, answered.first().unwrap()));
        }
        assert_eq!(failed_attempts(&cluster, "local|demo").await, 1);

        // The right code (a new request) confirms the one order.
        let right = body(b, &token, &authorize(&code));
        let (status, confirmed) = post_signed(b, &keys, &right).await;
        assert_eq!(status, 200);
        assert!(
            speech(&confirmed).starts_with("Order confirmed."),
            "{confirmed}"
        );
        assert_eq!(orders(&cluster, "local|demo").await, (1, 0));
        assert_eq!(cluster.front.outbox().len(), 1);

        let mut replays = 0;
        for server in &cluster.servers {
            replays += server
                .metrics()
                .await
                .lines()
                .filter(|l| l.starts_with("pod_alexa_replays_total{"))
                .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
                .sum::<u64>();
        }
        assert_eq!(replays, 4, "one order copy, one code copy, two more");
        eprintln!("cluster: one signed request on two servers, processed once");
    }
}
