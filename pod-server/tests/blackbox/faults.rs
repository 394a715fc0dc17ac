//! Faults of pod's peers, through the real server: each peer (the Auth0
//! tenant, the SMTP server, the SQLite file) fails while Alexa talks to the
//! skill. The skill answers with clear speech (never a 5xx or silence), no
//! order is left waiting for a code that was never sent, `/readyz` says
//! not ready while the database refuses writes, and the first request after
//! the recovery works. The adapter-level tables are in
//! `pod-adapters-http/tests/http/faults.rs` (every Auth0 fault kind),
//! `pod-adapters-sql/src/sqlite/faults.rs` (locked, full, read-only) and
//! `pod-adapters-local/tests/local/smtp_faults.rs`; `docs/FAULTS.md` lists
//! them all.

use std::net::SocketAddr;

use pod_adapters_auth0::fake::{
    API_AUDIENCE, API_SIGNING_SECRET, CLIENT_ID, CLIENT_SECRET, DOMAIN, FakeAlgorithm, FakeAuth0,
    FakeUser,
};
use pod_ports::testing::smtp_faults::{SmtpBehaviour, SmtpServer};
use serde_json::Value;
use wiremock::ResponseTemplate;

use super::{
    ORDER, RECEIVED_EMAIL, SKILL_ID, Spawn, TestApp, assert_says, auth0_conversation,
    authorize_confirms, speech, spoken,
};
use crate::support::PATIENCE;

const TROUBLE: &str = "having trouble";
const NOT_SENT: &str = "couldn't send your authorization code, so I cancelled the order";
const TOO_SLOW: &str = "taking longer than it should";

/// A loopback address nothing listens on (for now).
fn closed_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// The holder of `token` has no order waiting for a code.
async fn nothing_waits(app: &TestApp, token: &str) {
    let orders = app.orders(token).await;
    assert_eq!(orders["pending"], Value::Null, "{orders}");
}

// ------------------------------------------------------ SMTP

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_refusing_or_stalled_cancels_the_order_and_says_so_then_mail_flows() {
    let addr = closed_addr();
    let app = Spawn::serve()
        .env("POD_SMTP_URL", format!("smtp://{addr}"))
        .start()
        .await;
    let token = app.token("demo").await;
    let mut alexa = app.alexa(Some(&token));

    // Nothing listens at the SMTP address.
    let answer = alexa.say(ORDER).await.unwrap();
    assert_says(&answer, NOT_SENT);
    nothing_waits(&app, &token).await;

    // A server that refuses the mail (permanently, then for now), and one
    // that accepts the connection and never answers.
    for behaviour in [
        SmtpBehaviour::Refuse("554 5.7.1 relaying denied"),
        SmtpBehaviour::Refuse("451 4.3.0 try again later"),
        SmtpBehaviour::Stall,
    ] {
        let server = SmtpServer::start_on(std::net::TcpListener::bind(addr).unwrap(), behaviour);
        let answer = alexa.say(ORDER).await.unwrap();
        assert_says(&answer, NOT_SENT);
        nothing_waits(&app, &token).await;
        assert!(server.messages().is_empty(), "{behaviour:?}");
        server.stop().await;
    }
    assert!(
        app.outbox().is_empty(),
        "email codes never go to the outbox"
    );

    // The mail server is back: the next order's code arrives and confirms.
    let server = SmtpServer::start_on(
        std::net::TcpListener::bind(addr).unwrap(),
        SmtpBehaviour::Accept,
    );
    let answer = alexa.say(ORDER).await.unwrap();
    assert_eq!(speech(&answer), RECEIVED_EMAIL);
    let mail = server.messages().pop().expect("the code was mailed");
    let at = mail.find("Your pod code is ").expect("a code in the mail") + 17;
    let code: String = mail[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    authorize_confirms(&mut alexa, &code).await;
}

// ------------------------------------------------------ SQLite

/// Waits (bounded) until `/readyz` answers `status`.
async fn readiness_becomes(app: &TestApp, status: u16) {
    let ready = async {
        loop {
            let response = app.client.get(app.url("/readyz")).send().await.unwrap();
            if response.status().as_u16() == status {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(PATIENCE, ready)
        .await
        .unwrap_or_else(|_| panic!("/readyz never answered {status}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_locked_by_another_process_is_an_apology_and_not_ready_then_nothing_is_lost() {
    let app = TestApp::spawn().await;
    let token = app.token("demo").await;
    let mut alexa = app.alexa(Some(&token));
    assert_eq!(speech(&alexa.say(ORDER).await.unwrap()), RECEIVED_EMAIL);
    let code = app.last_code().code;
    let acknowledged = app.orders(&token).await["pending"]["id"].clone();

    // Another process holds SQLite's write lock and does not let go.
    let db = app.data_dir.join("pod.db");
    let other = rusqlite::Connection::open(&db).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let answer = alexa
        .say(&format!("authorize {}", spoken(&code)))
        .await
        .unwrap();
    let said = speech(&answer);
    assert!(
        said.contains(TROUBLE) || said.contains(TOO_SLOW),
        "not a clear apology: {said}"
    );
    readiness_becomes(&app, 503).await;

    // The lock is released: ready again with no other traffic, the file is
    // intact, the acknowledged order still waits (the refused confirmation
    // changed nothing), and it confirms now.
    other.execute_batch("ROLLBACK").unwrap();
    drop(other);
    readiness_becomes(&app, 200).await;
    let check = rusqlite::Connection::open(&db).unwrap();
    let integrity: String = check
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let orders = app.orders(&token).await;
    assert_eq!(orders["pending"]["id"], acknowledged, "{orders}");
    assert_eq!(orders["pending"]["failed_attempts"], 0, "{orders}");
    authorize_confirms(&mut alexa, &code).await;
    assert_eq!(speech(&alexa.say(ORDER).await.unwrap()), RECEIVED_EMAIL);
}

// ------------------------------------------------------ Auth0

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth0_refusing_connections_or_failing_to_send_is_an_apology_then_the_skill_works() {
    // The tenant is not up yet: nothing listens at its address.
    let addr = closed_addr();
    let app = Spawn::serve()
        .env("AUTH0_BASE_URL", format!("http://{addr}"))
        .env("AUTH0_DOMAIN", DOMAIN)
        .env("API_ID", API_AUDIENCE)
        .env("API_SIGNING_KEY", API_SIGNING_SECRET)
        .env("APP_CLIENT_ID", CLIENT_ID)
        .env("APP_CLIENT_SECRET", CLIENT_SECRET)
        .env("POD_SKILL_ID", SKILL_ID)
        .env("POD_ALEXA_VERIFY", "dev")
        .start()
        .await;
    let start_fake = || async {
        let fake = FakeAuth0::start_on(std::net::TcpListener::bind(addr).unwrap()).await;
        let _ = fake.config(FakeAlgorithm::Hs256, FakeAlgorithm::Hs256);
        fake.add_user(FakeUser::new("auth0|carol").with_email("carol@example.com"));
        fake
    };
    // Access tokens are HS256 (API_SIGNING_KEY): minted without the tenant.
    let token = {
        let minter = FakeAuth0::start().await;
        minter.mint_access_token("auth0|carol", FakeAlgorithm::Hs256)
    };
    let mut alexa = app.alexa_for_skill(Some(&token), Some(SKILL_ID));
    let answer = alexa.say(ORDER).await.unwrap();
    assert_says(&answer, TROUBLE);
    nothing_waits(&app, &token).await;

    // The tenant is up, but sending codes fails: the order that was stored
    // is cancelled, not left waiting.
    let fake = start_fake().await;
    fake.inject_fault(
        Some("POST"),
        "/passwordless/start",
        ResponseTemplate::new(503),
    );
    let answer = alexa.say(ORDER).await.unwrap();
    assert_says(&answer, NOT_SENT);
    nothing_waits(&app, &token).await;
    assert!(fake.sent_codes().is_empty());

    fake.heal();
    auth0_conversation(&app, &fake, &token, "carol@example.com", RECEIVED_EMAIL).await;
}
