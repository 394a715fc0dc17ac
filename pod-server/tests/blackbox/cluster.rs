//! Several `pod serve` processes on one PostgreSQL database behind nginx
//! (`deploy/nginx/pod.conf`): the rules hold across servers, nothing that
//! was answered is lost when a server dies, and nginx keeps answering.
//!
//! Every count here is exact and every request goes through real processes
//! (nginx round-robin spreads them over the servers); no assertion depends
//! on how fast anything is. Each test prints one `cluster:` line with what
//! it observed (`--nocapture` shows it).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pod_adapters_local::{Outbox, OutboxEntry};
use pod_server::simulate::{Simulator, SkillAnswer, Utterance};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::cluster::{Cluster, TestDb, start_servers};
use crate::support::{PATIENCE, TestApp, csrf_cookie, session_cookie};
use crate::{RECEIVED_EMAIL, order_intent, speech};

const CONFIRMED: &str = "Order confirmed.";
const ALREADY_CONFIRMED: &str = "That order is already confirmed.";
const NO_ORDER_WAITING: &str = "There is no order waiting for a code.";
const LAST_ATTEMPT: &str = "that was the last attempt, so I cancelled the order";
const LOCKED: &str = "Voice ordering is locked because of too many wrong codes.";
const TOO_MANY_CODES: &str = "You have asked for too many codes in the last hour.";

fn authorize(code: &str) -> Utterance {
    Utterance::Intent {
        name: "AuthorizePizzaOrderIntent".into(),
        slots: vec![("Code".into(), code.to_owned())],
    }
}

/// Signs `utterances` (each a request of its own, in one session) and posts
/// them all at once; the answers in the same order. Every answer must be an
/// HTTP answer (no connection error).
///
/// A round of as many requests that change nothing (`SessionEndedRequest`)
/// goes first, so that the client holds one open connection to nginx per
/// request and the requests that count arrive together rather than one
/// TCP handshake apart.
async fn all_at_once(alexa: Simulator, utterances: Vec<Utterance>) -> Vec<SkillAnswer> {
    let mut alexa = alexa;
    let warm_up: Vec<Vec<u8>> = utterances
        .iter()
        .map(|_| serde_json::to_vec(&alexa.envelope(&Utterance::SessionEnded)).unwrap())
        .collect();
    let bodies: Vec<Vec<u8>> = utterances
        .iter()
        .map(|u| serde_json::to_vec(&alexa.envelope(u)).unwrap())
        .collect();
    let alexa = Arc::new(alexa);
    let post_all = |bodies: Vec<Vec<u8>>| {
        let tasks: Vec<_> = bodies
            .into_iter()
            .map(|body| {
                let alexa = alexa.clone();
                tokio::spawn(async move { alexa.post_signed(&body).await })
            })
            .collect();
        async move {
            let mut answers = Vec::with_capacity(tasks.len());
            for task in tasks {
                answers.push(task.await.expect("join").expect("an HTTP answer"));
            }
            answers
        }
    };
    for ended in post_all(warm_up).await {
        assert_eq!(ended.status, 200, "{}", ended.body);
    }
    post_all(bodies).await
}

/// How many answers say each thing; panics on an answer that is not 200 or
/// says none of `expected` (a prefix or a part of the speech).
fn tally(answers: &[SkillAnswer], expected: &[&'static str]) -> BTreeMap<&'static str, usize> {
    let mut counts: BTreeMap<&'static str, usize> = expected.iter().map(|e| (*e, 0)).collect();
    for answer in answers {
        assert_eq!(answer.status, 200, "not answered: {}", answer.body);
        let said = speech(answer);
        let which = expected
            .iter()
            .find(|e| said.contains(**e))
            .unwrap_or_else(|| panic!("unexpected answer: {said}"));
        *counts.get_mut(which).unwrap() += 1;
    }
    counts
}

/// The order codes the outbox holds for `customer`, oldest first.
fn order_codes(app: &TestApp, customer: &str) -> Vec<OutboxEntry> {
    app.outbox()
        .into_iter()
        .filter(|e| e.customer == customer && e.purpose == "order")
        .collect()
}

/// The servers (by address) nginx passed these access-log lines' requests
/// to; a line naming several went through failover.
fn upstreams<S: AsRef<str>>(lines: impl IntoIterator<Item = S>) -> HashSet<String> {
    lines
        .into_iter()
        .filter_map(|line| {
            let rest = line.as_ref().split(" upstream=").nth(1)?;
            Some(rest.split(" upstream_status=").next()?.to_owned())
        })
        .flat_map(|addrs| addrs.split(", ").map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

/// Asserts that nginx passed the last `count` Alexa requests (the access
/// log lists requests as they finish) to every server of the cluster.
fn assert_spread_over_servers(cluster: &Cluster, count: usize) {
    let log = cluster.nginx.access_log();
    let alexa: Vec<&String> = log.iter().filter(|l| l.contains("POST /alexa")).collect();
    let servers: HashSet<String> = cluster.servers.iter().map(|s| s.addr.to_string()).collect();
    assert_eq!(
        upstreams(&alexa[alexa.len() - count..]),
        servers,
        "nginx spread the requests over every server"
    );
}

/// `(consecutive_failures, locked)` of the customer's account row.
async fn account_row(db: &TestDb, customer: &str) -> (i64, bool) {
    let mut conn = db.connect().await;
    let (failures, locked_at): (i64, Option<i64>) = sqlx::query_as(
        "SELECT consecutive_failures, locked_at FROM accounts WHERE customer_id = $1",
    )
    .bind(customer)
    .fetch_one(&mut conn)
    .await
    .expect("the account row");
    (failures, locked_at.is_some())
}

/// `(id, state, cancel_reason)` of every order of the customer.
async fn order_rows(db: &TestDb, customer: &str) -> Vec<(String, String, Option<String>)> {
    let mut conn = db.connect().await;
    sqlx::query_as(
        "SELECT id, state, cancel_reason FROM orders WHERE customer_id = $1 ORDER BY placed_at, id",
    )
    .bind(customer)
    .fetch_all(&mut conn)
    .await
    .expect("the order rows")
}

// ------------------------------------------------------ one code, many callers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_confirmations_at_once_confirm_the_order_once() {
    const CALLERS: usize = 200;
    let cluster = Cluster::with(2).start().await;
    let front = &cluster.front;
    let token = front.token("demo").await;
    let mut alexa = front.alexa(Some(&token));
    assert_eq!(
        speech(&alexa.send(&order_intent()).await.unwrap()),
        RECEIVED_EMAIL
    );
    let sent = front.last_code();
    let order_id = sent.order_id.clone().expect("an order code");

    let answers = all_at_once(alexa, vec![authorize(&sent.code); CALLERS]).await;
    let counts = tally(&answers, &[CONFIRMED, ALREADY_CONFIRMED, NO_ORDER_WAITING]);
    eprintln!("cluster: {CALLERS} confirmations of one order through nginx: {counts:?}");
    assert_eq!(counts[CONFIRMED], 1, "{counts:?}");
    assert_eq!(
        counts[ALREADY_CONFIRMED] + counts[NO_ORDER_WAITING],
        CALLERS - 1
    );
    assert_spread_over_servers(&cluster, CALLERS);

    let rows = order_rows(&cluster.db, "local|demo").await;
    assert_eq!(rows, vec![(order_id.clone(), "confirmed".into(), None)]);
    let orders = front.orders(&token).await;
    assert_eq!(orders["pending"], Value::Null);
    assert_eq!(orders["confirmed"].as_array().unwrap().len(), 1);
    assert_eq!(orders["confirmed"][0]["id"], order_id.as_str());
}

// ------------------------------------------------------ limits across servers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_and_codes_spread_over_servers_stop_at_the_limits() {
    const LOCKOUT_AFTER: i64 = 5;
    const CODES_PER_HOUR: usize = 4;
    const GUESSES: usize = 12;
    let cluster = Cluster::with(2)
        .env("POD_LOCKOUT_AFTER", LOCKOUT_AFTER.to_string())
        .env("POD_MAX_CODES_PER_HOUR", CODES_PER_HOUR.to_string())
        .start()
        .await;
    let front = &cluster.front;
    let token = front.token("demo").await;
    // Wrong codes, all different: the right one plus 1..=GUESSES.
    let wrong = |code: &str| -> Vec<Utterance> {
        let right: u32 = code.parse().unwrap();
        (1..=GUESSES as u32)
            .map(|n| authorize(&format!("{:04}", (right + n) % 10_000)))
            .collect()
    };

    // The attempt limit: of GUESSES wrong codes at once, exactly 3 count,
    // and the third cancels the order.
    let mut alexa = front.alexa(Some(&token));
    assert_eq!(
        speech(&alexa.send(&order_intent()).await.unwrap()),
        RECEIVED_EMAIL
    );
    let first = front.last_code();
    let answers = all_at_once(alexa, wrong(&first.code)).await;
    assert_spread_over_servers(&cluster, GUESSES);
    let counts = tally(
        &answers,
        &[
            "2 attempts left",
            "1 attempt left",
            LAST_ATTEMPT,
            NO_ORDER_WAITING,
        ],
    );
    assert_eq!(counts["2 attempts left"], 1, "{counts:?}");
    assert_eq!(counts["1 attempt left"], 1, "{counts:?}");
    assert!(counts[LAST_ATTEMPT] >= 1, "{counts:?}");
    let (failures_after_first, locked) = account_row(&cluster.db, "local|demo").await;
    assert_eq!(
        (failures_after_first, locked),
        (3, false),
        "exactly 3 counted"
    );
    assert_eq!(
        order_rows(&cluster.db, "local|demo").await,
        vec![(
            first.order_id.clone().unwrap(),
            "cancelled".into(),
            Some("too_many_attempts".into())
        )]
    );
    // The right code no longer confirms, on any server.
    for server in &cluster.servers {
        let mut alexa = server.alexa(Some(&token));
        let late = alexa.send(&authorize(&first.code)).await.unwrap();
        assert!(
            speech(&late).starts_with(NO_ORDER_WAITING),
            "{}",
            speech(&late)
        );
        let (status, body) = server
            .api(
                Method::POST,
                "/api/orders/confirm",
                Some(&token),
                Some(json!({"code": first.code})),
            )
            .await;
        assert_eq!((status, &body["error"]), (404, &json!("no_pending_order")));
    }
    let attempt_limit = counts;

    // The account lock: the run of wrong codes goes on across orders and
    // servers and locks the account at exactly LOCKOUT_AFTER.
    let mut alexa = front.alexa(Some(&token));
    let placed = alexa.send(&order_intent()).await.unwrap();
    assert!(
        speech(&placed).ends_with(RECEIVED_EMAIL),
        "{}",
        speech(&placed)
    );
    let second = front.last_code();
    let answers = all_at_once(alexa, wrong(&second.code)).await;
    assert_spread_over_servers(&cluster, GUESSES);
    // A guess compared before the lock and refused after it hears how the
    // order ended (the last attempt); the rest find the account locked.
    let counts = tally(
        &answers,
        &[
            "2 attempts left",
            "1 attempt left",
            LOCKED,
            LAST_ATTEMPT,
            NO_ORDER_WAITING,
        ],
    );
    assert_eq!(counts["2 attempts left"], 1, "failure 4: {counts:?}");
    assert_eq!(counts["1 attempt left"], 0, "failure 5 locks: {counts:?}");
    assert!(counts[LOCKED] >= 1, "{counts:?}");
    assert_eq!(
        account_row(&cluster.db, "local|demo").await,
        (LOCKOUT_AFTER, true),
        "locked at exactly {LOCKOUT_AFTER} failures"
    );
    let rows = order_rows(&cluster.db, "local|demo").await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].0, second.order_id.clone().unwrap());
    assert_eq!(rows[1].1, "cancelled");
    // Locked: no code is compared and none is sent, on any server.
    for server in &cluster.servers {
        let mut alexa = server.alexa(Some(&token));
        let right = alexa.send(&authorize(&second.code)).await.unwrap();
        assert!(speech(&right).starts_with(LOCKED), "{}", speech(&right));
        let again = alexa.send(&order_intent()).await.unwrap();
        assert!(speech(&again).starts_with(LOCKED), "{}", speech(&again));
    }
    assert_eq!(
        order_codes(front, "local|demo").len(),
        2,
        "no code while locked"
    );
    assert_eq!(
        account_row(&cluster.db, "local|demo").await,
        (LOCKOUT_AFTER, true)
    );
    let lock = counts;

    // The send budget: of a burst of orders at once, exactly CODES_PER_HOUR
    // get a code; each newer one supersedes the one before.
    let tokens = cluster.add_users(&["burst".to_owned()]).await;
    let alexa = front.alexa(Some(&tokens[0]));
    let answers = all_at_once(alexa, vec![order_intent(); 3 * CODES_PER_HOUR]).await;
    assert_spread_over_servers(&cluster, 3 * CODES_PER_HOUR);
    let counts = tally(&answers, &[RECEIVED_EMAIL, TOO_MANY_CODES]);
    assert_eq!(counts[RECEIVED_EMAIL], CODES_PER_HOUR, "{counts:?}");
    let sent = order_codes(front, "local|burst");
    assert_eq!(sent.len(), CODES_PER_HOUR, "codes sent: {sent:?}");
    let rows = order_rows(&cluster.db, "local|burst").await;
    let pending: Vec<_> = rows.iter().filter(|r| r.1 == "awaiting_code").collect();
    let superseded = rows
        .iter()
        .filter(|r| r.1 == "cancelled" && r.2.as_deref() == Some("superseded"))
        .count();
    assert_eq!(
        (rows.len(), pending.len(), superseded),
        (CODES_PER_HOUR, 1, CODES_PER_HOUR - 1),
        "{rows:?}"
    );
    // Codes are delivered after their order commits, so the outbox may list
    // them in another order; each of the orders got exactly one.
    let with_codes: HashSet<&str> = sent.iter().filter_map(|e| e.order_id.as_deref()).collect();
    let stored: HashSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(with_codes, stored);
    eprintln!(
        "cluster: {GUESSES} wrong codes at once: {attempt_limit:?}, 3 counted; \
         {GUESSES} more on a second order: {lock:?}, locked at {LOCKOUT_AFTER}; \
         {} orders at once: {counts:?}, {} codes sent",
        3 * CODES_PER_HOUR,
        sent.len()
    );
}

// ------------------------------------------------------ a server dies

/// What one simulated user saw.
#[derive(Debug, Default)]
struct Seen {
    answered: usize,
    answered_after_kill: usize,
    /// Requests that got no proper answer, with whether they were sent
    /// before the kill had completed (so may have been in flight on the
    /// killed server).
    failures: Vec<(bool, String)>,
    /// Orders whose "received" answer came (ids from the outbox).
    received: Vec<String>,
    /// Orders whose "confirmed" answer came.
    confirmed: Vec<String>,
}

impl Seen {
    fn note(&mut self, after_kill: bool, result: Result<(), String>) -> bool {
        match result {
            Ok(()) => {
                self.answered += 1;
                self.answered_after_kill += usize::from(after_kill);
                true
            }
            Err(what) => {
                self.failures.push((!after_kill, what));
                false
            }
        }
    }
}

fn answered(answer: anyhow::Result<SkillAnswer>, expected: &str) -> Result<SkillAnswer, String> {
    match answer {
        Ok(answer)
            if answer.status == 200 && answer.speech().is_some_and(|s| s.contains(expected)) =>
        {
            Ok(answer)
        }
        Ok(answer) if answer.status == 200 => Err(format!("200: {}", answer.body)),
        Ok(answer) => Err(answer.status.to_string()),
        Err(error) => Err(format!("no answer: {error:#}")),
    }
}

/// One simulated person talking to the cluster through nginx.
struct User {
    customer: String,
    alexa: Simulator,
    token: String,
    orders_url: String,
    client: reqwest::Client,
    outbox: std::path::PathBuf,
}

impl User {
    /// `flows` times: order, read the code from the outbox, confirm, list
    /// the orders; a request that fails ends the flow (as a person would
    /// start again). Each request notes whether `killed` was set when it
    /// was sent; each flow adds one to `flows_done`.
    async fn run(
        mut self,
        flows: usize,
        flows_done: Arc<AtomicUsize>,
        killed: Arc<AtomicBool>,
    ) -> Seen {
        let mut seen = Seen::default();
        for _ in 0..flows {
            let after = killed.load(Ordering::SeqCst);
            let order = answered(self.alexa.send(&order_intent()).await, RECEIVED_EMAIL);
            if seen.note(after, order.map(drop)) {
                let sent = Outbox::read(&self.outbox, None, None)
                    .expect("outbox")
                    .into_iter()
                    .rfind(|e| e.customer == self.customer && e.purpose == "order")
                    .expect("the order's code");
                let id = sent.order_id.clone().expect("an order id");
                seen.received.push(id.clone());
                let after = killed.load(Ordering::SeqCst);
                let confirm = answered(self.alexa.send(&authorize(&sent.code)).await, CONFIRMED);
                if seen.note(after, confirm.map(drop)) {
                    seen.confirmed.push(id);
                }
            }
            let after = killed.load(Ordering::SeqCst);
            let listed = self
                .client
                .get(&self.orders_url)
                .bearer_auth(&self.token)
                .send();
            let listed = match listed.await {
                Ok(r) if r.status() == 200 => Ok(()),
                Ok(r) => Err(format!("{} (GET /api/orders)", r.status().as_u16())),
                Err(e) => Err(format!("GET /api/orders: {e}")),
            };
            seen.note(after, listed);
            flows_done.fetch_add(1, Ordering::SeqCst);
        }
        seen
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_under_load_loses_nothing_that_was_answered() {
    const USERS: usize = 8;
    const FLOWS_PER_USER: usize = 25;
    const KILL_AFTER_FLOWS: usize = USERS * FLOWS_PER_USER / 2;
    let mut cluster = Cluster::with(2)
        .env("POD_MAX_CODES_PER_HOUR", "100")
        .start()
        .await;
    let names: Vec<String> = (0..USERS).map(|n| format!("user{n}")).collect();
    let tokens = cluster.add_users(&names).await;
    let flows_done = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));

    let users: Vec<_> = names
        .iter()
        .zip(&tokens)
        .map(|(name, token)| {
            let user = User {
                customer: format!("local|{name}"),
                alexa: cluster.front.alexa(Some(token)),
                token: token.clone(),
                orders_url: cluster.front.url("/api/orders"),
                client: cluster.front.client.clone(),
                outbox: cluster.front.data_dir.join(Outbox::FILE_NAME),
            };
            tokio::spawn(user.run(FLOWS_PER_USER, flows_done.clone(), killed.clone()))
        })
        .collect();

    // Half-way through, SIGKILL the second server.
    let deadline = Instant::now() + PATIENCE;
    while flows_done.load(Ordering::SeqCst) < KILL_AFTER_FLOWS {
        assert!(Instant::now() < deadline, "the load run stalled");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let victim = cluster.servers[1].addr.to_string();
    let served_before_kill = upstreams(cluster.nginx.access_log()).contains(&victim);
    cluster.servers[1].kill();
    killed.store(true, Ordering::SeqCst);

    let mut all = Vec::with_capacity(USERS);
    for user in users {
        all.push(user.await.expect("a user's run"));
    }
    let answered_total: usize = all.iter().map(|s| s.answered).sum();
    let answered_after: usize = all.iter().map(|s| s.answered_after_kill).sum();
    let failures: Vec<&(bool, String)> = all.iter().flat_map(|s| &s.failures).collect();
    let received: usize = all.iter().map(|s| s.received.len()).sum();
    let confirmed: usize = all.iter().map(|s| s.confirmed.len()).sum();

    // Nothing answered is lost: every received order and every confirmed
    // order is in the database, as answered.
    let mut conn = cluster.db.connect().await;
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, state FROM orders")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let states: BTreeMap<String, String> = rows.into_iter().collect();
    for seen in &all {
        for id in &seen.received {
            assert!(states.contains_key(id), "received order {id} is not stored");
        }
        for id in &seen.confirmed {
            assert_eq!(
                states.get(id).map(String::as_str),
                Some("confirmed"),
                "confirmed order {id}"
            );
        }
    }
    // And each user sees their confirmed orders through the cluster.
    for (seen, token) in all.iter().zip(&tokens) {
        let listed = cluster.front.orders(token).await;
        let ids: HashSet<&str> = listed["confirmed"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["id"].as_str())
            .collect();
        for id in &seen.confirmed {
            assert!(ids.contains(id.as_str()), "{id} not listed: {listed}");
        }
    }

    let log = cluster.nginx.access_log();
    let failovers = log
        .iter()
        .filter(|l| l.contains(&format!("upstream={victim}, ")))
        .count();
    eprintln!(
        "cluster: {USERS} users x {FLOWS_PER_USER} flows, server {victim} killed after \
         {KILL_AFTER_FLOWS} flows: {answered_total} requests answered ({answered_after} sent \
         after the kill), {} failed ({failures:?}); {received} orders received and \
         {confirmed} confirmed, every one of them in the database ({} order rows); nginx \
         passed {failovers} requests from the killed server on to the other",
        failures.len(),
        states.len()
    );
    assert!(served_before_kill, "the killed server had been serving");
    // nginx fails over: a request sent after the kill is always answered.
    // Only a request in flight on the killed server at the kill may fail
    // (nginx does not resend a POST that reached a server: see pod.conf),
    // and a user has at most one request in flight.
    let late: Vec<_> = failures
        .iter()
        .filter(|(in_flight, _)| !in_flight)
        .collect();
    assert!(
        late.is_empty(),
        "failed after the kill: {late:?}\n{}",
        cluster.nginx.logs()
    );
    assert!(failures.len() <= USERS, "{failures:?}");
    // nginx answered them (pod itself never says 502), and only POSTs: a
    // GET in flight on the killed server goes to the other one.
    for (_, what) in &failures {
        assert_eq!(
            what, "502",
            "only a POST, and only nginx's 502 for a dead server"
        );
    }
    assert!(answered_after > 0, "requests kept being answered");
    assert_eq!(
        answered_total + failures.len(),
        USERS * FLOWS_PER_USER * 3
            - all
                .iter()
                .map(|s| FLOWS_PER_USER - s.received.len())
                .sum::<usize>(),
        "every request was counted once"
    );
}

// ------------------------------------------------------ starting together

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_started_together_on_an_empty_database_all_come_up() {
    let db = TestDb::new().await;
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("data");
    pod_server::app::local_token_key(&data_dir).unwrap();
    pod_server::app::dev_signing_keys(&data_dir).unwrap();
    let env: BTreeMap<String, String> = [("POD_DATABASE_URL".to_owned(), db.url.clone())].into();
    // Both migrate the empty database and add the first-start user at once.
    let servers = start_servers(2, &env, &data_dir).await;
    for server in &servers {
        let ready = server
            .client
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200, "{}", server.stderr_text());
    }
    let users = servers[0].pod_ok(&["users", "list"]).await;
    assert_eq!(users.matches("demo@example.com").count(), 1, "{users}");
    let mut conn = db.connect().await;
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM pod_schema_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(versions, vec![1, 2, 3, 4], "migrated once");
    eprintln!("cluster: 2 servers started together on an empty database: both ready");
}

// ------------------------------------------------------ live updates

/// Signs `demo` in to the web app of `server` with a code from the outbox
/// (the passwordless flow a browser goes through); the session cookie.
async fn sign_in(server: &TestApp) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(PATIENCE)
        .build()
        .unwrap();
    let page = client.get(server.url("/app/sign-in")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let mut cookies = format!("pod_csrf={}", csrf_cookie(&page).expect("a CSRF cookie"));
    let body = page.text().await.unwrap();
    let at = body.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    let csrf = body[at..].split('"').next().unwrap().to_owned();
    let post = |path: &str, cookies: &str, form: Vec<(&'static str, String)>| {
        client
            .post(server.url(path))
            .header(reqwest::header::COOKIE, cookies)
            .form(&form)
            .send()
    };
    let sent = post(
        "/app/sign-in",
        &cookies,
        vec![("csrf", csrf.clone()), ("login", "demo".into())],
    )
    .await
    .unwrap();
    assert_eq!(sent.status(), 303);
    let session = session_cookie(&sent).expect("the sign-in session");
    cookies = format!("{cookies}; pod_session={session}");
    let code = server
        .outbox()
        .into_iter()
        .rfind(|e| e.purpose == "sign_in")
        .expect("a sign-in code")
        .code;
    let done = post(
        "/app/sign-in/code",
        &cookies,
        vec![("csrf", csrf), ("code", code)],
    )
    .await
    .unwrap();
    assert_eq!(done.status(), 303);
    session_cookie(&done).expect("the signed-in session")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_placed_on_one_server_reaches_the_event_stream_on_another() {
    let cluster = Cluster::with(2).start().await;
    let (a, b) = (&cluster.servers[0], &cluster.servers[1]);
    let cookie = sign_in(b).await;
    let mut stream = b
        .client
        .get(b.url("/app/events"))
        .header(reqwest::header::COOKIE, format!("pod_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    // Events end with a blank line; keep-alive comments may come between.
    let mut buffer = String::new();
    let mut next_event = async || -> String {
        loop {
            if let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                if event.lines().any(|l| l.starts_with("event:")) {
                    return event;
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), stream.chunk())
                .await
                .expect("an event from the other server")
                .expect("the stream")
                .expect("the stream stays open");
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    let first = next_event().await;
    assert!(first.contains("event: orders"), "{first}");
    assert!(first.contains("No order is waiting"), "{first}");

    let token = a.token("demo").await;
    let mut alexa = a.alexa(Some(&token));
    assert_eq!(
        speech(&alexa.send(&order_intent()).await.unwrap()),
        RECEIVED_EMAIL
    );
    let order_id = a.last_code().order_id.expect("an order code");
    let update = next_event().await;
    assert!(
        update.contains(&format!("data-order=\"{order_id}\"")),
        "the update names order {order_id}: {update}"
    );
    eprintln!(
        "cluster: an order placed on {} reached the event stream on {}",
        a.addr, b.addr
    );
}
