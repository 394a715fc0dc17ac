//! A writer killed with SIGKILL at random moments loses nothing it
//! acknowledged, and leaves a file SQLite finds intact.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use pod_adapters_sql::SqlStore;
use pod_ports::AccountStore;
use pod_ports::domain::{CodeCheck, Timestamp};
use rand::Rng;
use tempfile::TempDir;

use super::{T0, check, customer, db_path, integrity, oid, place};

/// Set (to the database path) when this binary runs as the crash-test child.
const CHILD_DB: &str = "POD_SQL_CRASH_CHILD_DB";
/// The round the child runs in, to keep order ids and customers apart.
const CHILD_ROUND: &str = "POD_SQL_CRASH_CHILD_ROUND";
/// Customers the child serves at once, so that commits share batches.
const CHILD_CUSTOMERS: usize = 4;
/// More orders than any round waits for; the parent kills the child first.
const CHILD_MAX_ORDERS: usize = 100_000;

fn hour(n: usize) -> Timestamp {
    // An hour apart, so that no send budget runs out.
    T0.plus(Duration::from_secs(3600 * n as u64))
}

/// Not a test on its own: the writer half of
/// [`a_killed_writer_loses_no_acknowledged_write`], run in a child process.
/// Without the environment variables it does nothing.
///
/// Serves a few customers at once; for each it places orders and takes each
/// through a wrong code (every third) and the right one, committing every
/// step as an account change through the engine and printing an `ACK` line
/// after every commit that returned `Ok`, never before.
#[test]
fn crash_child() {
    let (Ok(path), Ok(round)) = (std::env::var(CHILD_DB), std::env::var(CHILD_ROUND)) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = SqlStore::open_sqlite(Path::new(&path)).await.unwrap();
        let out = Arc::new(Mutex::new(std::io::stdout()));
        {
            // Libtest may have written half a line ("test crash_child ... ").
            let mut out = out.lock().unwrap();
            let _ = writeln!(out);
        }
        let tasks: Vec<_> = (0..CHILD_CUSTOMERS)
            .map(|c| {
                let store = store.clone();
                let out = out.clone();
                let round = round.clone();
                tokio::spawn(async move {
                    let who = customer(&format!("crash|r{round}c{c}"));
                    // One line at a time, whole: a line cut by the kill
                    // acknowledges nothing.
                    let ack = |line: String| {
                        let mut out = out.lock().unwrap();
                        writeln!(out, "ACK {line}").and_then(|()| out.flush())
                    };
                    let mut account = store.load_account(&who).await.unwrap();
                    for i in 0..CHILD_MAX_ORDERS {
                        let id = format!("r{round}c{c}-{i}");
                        let mut changes = vec![place(&account, &id, hour(i))];
                        let mut steps = vec![CodeCheck::Valid];
                        if i % 3 == 0 {
                            steps.insert(0, CodeCheck::Invalid);
                        }
                        for step in steps {
                            let last = changes.last().unwrap().account();
                            changes.push(check(last, &id, step, hour(i)));
                        }
                        for change in changes {
                            store.commit(&change).await.unwrap();
                            let order = change.orders().last().unwrap();
                            account = change.account().clone();
                            let lines = [
                                format!("order {} {}", order.id(), order.version()),
                                format!("account {who} {}", account.version()),
                            ];
                            if lines.into_iter().any(|line| ack(line).is_err()) {
                                return; // the parent is gone
                            }
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
}

/// What the child acknowledged before it died.
#[derive(Default)]
struct Acknowledged {
    orders: HashMap<String, u64>,
    accounts: HashMap<String, u64>,
    lines: usize,
}

impl Acknowledged {
    fn note(&mut self, line: &str) {
        let Some((_, ack)) = line.split_once("ACK ") else {
            return;
        };
        let words: Vec<&str> = ack.split_whitespace().collect();
        let (map, key, version) = match words.as_slice() {
            ["order", id, version] => (&mut self.orders, id, version),
            ["account", who, version] => (&mut self.accounts, who, version),
            _ => panic!("unexpected child output {line:?}"),
        };
        let version: u64 = version.parse().unwrap();
        let seen = map.entry((*key).to_owned()).or_default();
        *seen = (*seen).max(version);
        self.lines += 1;
    }
}

/// Kills a writer with SIGKILL at a random moment, several times over one
/// file, and checks that nothing it acknowledged is lost and that SQLite
/// finds the file intact.
#[test]
fn a_killed_writer_loses_no_acknowledged_write() {
    const ROUNDS: usize = 5;
    // How long a silent child may take before the test gives up on it: a
    // watchdog against a hung child, not a wait for anything to happen.
    const STALL: Duration = Duration::from_secs(30);

    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let exe = std::env::current_exe().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rng = rand::rng();
    let mut total_acks = 0;
    let mut all: Vec<(usize, Acknowledged)> = Vec::new();

    for round in 0..ROUNDS {
        let stderr_path = dir.path().join(format!("child{round}.stderr"));
        let mut child = Command::new(&exe)
            .args([
                "crash::crash_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DB, &path)
            .env(CHILD_ROUND, round.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            loop {
                let mut line = String::new();
                match stdout.read_line(&mut line) {
                    // Only whole lines: a line cut by the kill acknowledges nothing.
                    Ok(n) if n > 0 && line.ends_with('\n') => {
                        if lines_tx.send(line).is_err() {
                            return;
                        }
                    }
                    _ => return,
                }
            }
        });

        let kill_after = rng.random_range(1..=600);
        let mut acked = Acknowledged::default();
        while acked.lines < kill_after {
            match lines.recv_timeout(STALL) {
                Ok(line) => acked.note(&line),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                    panic!(
                        "round {round}: the child stopped after {} acks:\n{stderr}",
                        acked.lines
                    );
                }
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        reader.join().unwrap();
        // Lines the child wrote before it died were acknowledged too.
        for line in lines.try_iter() {
            acked.note(&line);
        }
        total_acks += acked.lines;

        // The integrity check runs first, on the file exactly as the kill
        // left it (this connection also replays the log).
        assert_eq!(integrity(&path), "ok", "round {round}");
        all.push((round, acked));
        runtime.block_on(async {
            let store = SqlStore::open_sqlite(&path).await.unwrap();
            // Every earlier round too: later rounds must not lose them.
            for (round, acked) in &all {
                for (id, version) in &acked.orders {
                    let stored = store.order(&oid(id)).await.unwrap().unwrap_or_else(|| {
                        panic!("round {round}: acknowledged order {id} is lost")
                    });
                    assert!(
                        stored.version() >= *version,
                        "round {round}: {id} went back"
                    );
                }
                for (who, version) in &acked.accounts {
                    let account = store.load_account(&customer(who)).await.unwrap();
                    assert!(
                        account.version() >= *version,
                        "round {round}: the account of {who} went back"
                    );
                }
                for c in 0..CHILD_CUSTOMERS {
                    // Every stored order of the round still reads back.
                    store
                        .orders_of(&customer(&format!("crash|r{round}c{c}")))
                        .await
                        .unwrap();
                }
            }
            store.close().await;
        });
    }
    println!("crash test: {ROUNDS} rounds, {total_acks} acknowledged writes, integrity ok");
}
