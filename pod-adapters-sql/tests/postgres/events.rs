//! Order events across servers through `LISTEN`/`NOTIFY`: two stores on
//! one database stand for two pod servers. Every wait is bounded (a hang
//! guard, never an assertion on time).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pod_adapters_sql::{ORDER_EVENTS_CHANNEL, SqlStore, StoreEvents};
use pod_ports::domain::{Account, Change, OrderEvent};
use pod_ports::{AccountStore, OrderEvents};
use sqlx::postgres::PgListener;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::TestDb;
use crate::{at, commit, customer, place};

/// Long enough for anything on loopback; only a guard against hanging.
const GUARD: Duration = Duration::from_secs(30);

/// A server's local sink: what reaches it, in order.
struct Sink(UnboundedSender<OrderEvent>);

#[async_trait]
impl OrderEvents for Sink {
    async fn publish(&self, event: OrderEvent) {
        let _ = self.0.send(event);
    }
}

/// One pod server: its store, its events, what reached its local sink and
/// its resync signals.
struct Server {
    store: SqlStore,
    events: StoreEvents,
    received: UnboundedReceiver<OrderEvent>,
    resyncs: UnboundedReceiver<()>,
}

impl Server {
    /// A server whose connections are named `name` (its listener's
    /// `name-listener`).
    async fn start(db: &TestDb, name: &str) -> Server {
        let store = SqlStore::connect(&db.url_with(&[("application_name", name)]))
            .await
            .unwrap();
        let (sink, received) = unbounded_channel();
        let (resync, resyncs) = unbounded_channel();
        let events = store
            .order_events(Arc::new(Sink(sink)), move || {
                let _ = resync.send(());
            })
            .await
            .unwrap();
        Server {
            store,
            events,
            received,
            resyncs,
        }
    }

    /// Commits `change` and publishes its events, as the service does.
    async fn commit_and_publish(&self, change: &Change) -> Account {
        let account = commit(&self.store, change).await;
        let publisher = self.events.publisher();
        for event in change.events() {
            publisher.publish(event.clone()).await;
        }
        account
    }

    async fn next_event(&mut self) -> OrderEvent {
        tokio::time::timeout(GUARD, self.received.recv())
            .await
            .expect("an event (hang guard)")
            .expect("the sink is open")
    }

    async fn next_resync(&mut self) {
        tokio::time::timeout(GUARD, self.resyncs.recv())
            .await
            .expect("a resync (hang guard)")
            .expect("the resync signal is open");
    }
}

/// `(name, order id, customer id)` of an event.
fn summary(event: &OrderEvent) -> (&'static str, String, String) {
    (
        event.name(),
        event.order().id().to_string(),
        event.order().customer().to_string(),
    )
}

/// The pids of the database's listeners named `application_name`.
async fn listeners(db: &TestDb, application_name: &str) -> Vec<i32> {
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = $1 ORDER BY pid",
    )
    .bind(application_name)
    .fetch_all(&mut db.raw().await)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_published_through_one_server_reaches_every_server_once() {
    let db = TestDb::new().await;
    let mut a = Server::start(&db, "pod-a").await;
    let mut b = Server::start(&db, "pod-b").await;
    assert_eq!(listeners(&db, "pod-a-listener").await.len(), 1);
    assert_eq!(listeners(&db, "pod-b-listener").await.len(), 1);

    // Placed through A: B hears it, and so does A (through the database,
    // not straight from its publisher), each with the order as stored.
    let who = customer("local|a");
    let first = place(&Account::new(who.clone()), "o1", at(0));
    let account = a.commit_and_publish(&first).await;
    let stored = a.store.order(first.events()[0].order().id()).await;
    for server in [&mut a, &mut b] {
        let event = server.next_event().await;
        assert!(matches!(event, OrderEvent::Placed(_)), "{event:?}");
        assert_eq!(Some(event.order()), stored.as_ref().unwrap().as_ref());
    }

    // A newer order through B supersedes it: both events, in order, on
    // both servers.
    let second = place(&account, "o2", at(1));
    b.commit_and_publish(&second).await;
    let expected: Vec<_> = second.events().iter().map(summary).collect();
    assert_eq!(
        expected,
        [
            ("cancelled", "o1".to_owned(), "local|a".to_owned()),
            ("placed", "o2".to_owned(), "local|a".to_owned()),
        ]
    );
    // Then a marker from A: notifications arrive in commit order, so once
    // it is in, anything sent before it is too; nothing came twice.
    let other = place(&Account::new(customer("local|m")), "marker", at(2));
    a.commit_and_publish(&other).await;
    let marker = summary(&other.events()[0]);
    for server in [&mut a, &mut b] {
        let mut got = Vec::new();
        loop {
            let event = summary(&server.next_event().await);
            let done = event == marker;
            got.push(event);
            if done {
                break;
            }
        }
        let mut want = expected.clone();
        want.push(marker.clone());
        assert_eq!(got, want);
    }

    // Stopping a listener ends its connection; no resync was ever asked.
    a.events.stop().await;
    b.events.stop().await;
    for name in ["pod-a-listener", "pod-b-listener"] {
        let mut gone = false;
        for _ in 0..500 {
            if listeners(&db, name).await.is_empty() {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(gone, "{name} still connected after stop");
    }
    for mut received in [a.received, b.received] {
        assert!(received.try_recv().is_err(), "nothing after the marker");
    }
    for mut resyncs in [a.resyncs, b.resyncs] {
        assert!(resyncs.try_recv().is_err(), "no resync");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_listener_listens_again_asks_for_a_resync_and_hears_later_events() {
    let db = TestDb::new().await;
    let mut a = Server::start(&db, "pod-a").await;
    let mut b = Server::start(&db, "pod-b").await;
    let before = listeners(&db, "pod-a-listener").await;
    assert_eq!(before.len(), 1);

    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'pod-a-listener'",
    )
    .fetch_all(&mut db.raw().await)
    .await
    .unwrap();
    assert_eq!(killed, [true]);

    // A notices, listens again on a new connection, then asks its pages to
    // reload (what was sent meanwhile is lost). B was not touched.
    // (The killed backend may linger in pg_stat_activity for a moment.)
    a.next_resync().await;
    let mut after = Vec::new();
    for _ in 0..500 {
        after = listeners(&db, "pod-a-listener").await;
        if after.len() == 1 && after != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, before, "a new connection");

    // Later events reach A again, from B and from A itself.
    let from_b = place(&Account::new(customer("local|b")), "from-b", at(0));
    b.commit_and_publish(&from_b).await;
    let from_a = place(&Account::new(customer("local|a")), "from-a", at(1));
    a.commit_and_publish(&from_a).await;
    for server in [&mut a, &mut b] {
        let got = [
            summary(&server.next_event().await),
            summary(&server.next_event().await),
        ];
        assert_eq!(
            got,
            [summary(&from_b.events()[0]), summary(&from_a.events()[0])]
        );
    }
    assert!(b.resyncs.try_recv().is_err(), "B's listener was not lost");
    a.events.stop().await;
    b.events.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notification_carries_ids_only() {
    let db = TestDb::new().await;
    let server = Server::start(&db, "pod-a").await;
    let mut raw = PgListener::connect(&db.url()).await.unwrap();
    raw.listen(ORDER_EVENTS_CHANNEL).await.unwrap();

    // The order's code went by SMS to +15550100123; its digest is 0xab….
    let change = place(&Account::new(customer("local|a")), "o1", at(0));
    server.commit_and_publish(&change).await;
    let notification = tokio::time::timeout(GUARD, raw.recv())
        .await
        .expect("a notification (hang guard)")
        .unwrap();
    assert_eq!(notification.channel(), ORDER_EVENTS_CHANNEL);
    let payload = notification.payload();
    assert_eq!(
        payload,
        r#"{"event":"placed","order":"o1","customer":"local|a"}"#
    );
    for secret in ["0100123", "***23", "abab", "q6ur", "large", "pepperoni"] {
        assert!(!payload.to_lowercase().contains(secret), "{payload}");
    }
    server.events.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_pod_did_not_write_are_ignored() {
    let db = TestDb::new().await;
    let mut server = Server::start(&db, "pod-a").await;
    let mut raw = db.raw().await;
    for junk in [
        "hello",
        r#"{"event":"eaten","order":"o1","customer":"local|a"}"#,
        // Well formed, but no such order: the pages reload instead.
        r#"{"event":"placed","order":"nowhere","customer":"local|a"}"#,
    ] {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(ORDER_EVENTS_CHANNEL)
            .bind(junk)
            .execute(&mut raw)
            .await
            .unwrap();
    }
    server.next_resync().await;
    let change = place(&Account::new(customer("local|a")), "o1", at(0));
    server.commit_and_publish(&change).await;
    assert_eq!(
        summary(&server.next_event().await),
        summary(&change.events()[0])
    );
    assert!(server.resyncs.try_recv().is_err(), "one resync only");
    server.events.stop().await;
}
