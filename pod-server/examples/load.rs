//! A load driver for a running `pod serve` on the embedded default.
//!
//! N simulated Alexa users loop through the whole voice flow, each on its
//! own local account: order (a signed `GetMeSomePizzaIntent`), read the code
//! from the outbox, confirm (a signed `AuthorizePizzaOrderIntent`). At the
//! end it prints flows per second and p50/p90/p99 latency per intent.
//!
//! ```text
//! # 1. a server with a fresh data folder; 100 codes per account an hour (the
//! #    most the policy allows) so that accounts last longer
//! export POD_DATA_DIR=$(mktemp -d) POD_LISTEN=127.0.0.1:7180
//! POD_MAX_CODES_PER_HOUR=100 cargo run --release -p pod-server -- serve 2>server.log &
//! # 2. the load
//! cargo run --release -p pod-server --example load -- \
//!     --url http://127.0.0.1:7180/alexa --data-dir "$POD_DATA_DIR" --concurrency 8 --duration 10s
//! ```
//!
//! How it gets what Alexa and the account holder would have:
//! - accounts: it adds local users `load-<run>-<user>-<n>` to the server's
//!   SQLite database (the same file, opened from this process) and signs
//!   their access tokens with the data folder's token key. Each account
//!   sends at most `--codes-per-user` codes (default 100, matching
//!   `POD_MAX_CODES_PER_HOUR=100`); then the user moves on to a new account,
//!   so the per-account send limit never turns flows into refusals. Against
//!   a server with the default limit of 5, pass `--codes-per-user 5`.
//! - signatures: requests are signed with the development Alexa CA in the
//!   data folder (`POD_ALEXA_VERIFY=dev`, the embedded default). Signing
//!   (RSA, about a millisecond) is Alexa's work: it is done before the
//!   clock starts, but it runs on the same machine as the server.
//! - codes: the outbox (`<data>/outbox.jsonl`) is followed from its end;
//!   every account is used by one simulated user at a time, so the newest
//!   order code for an account is the one its last order sent.
//!
//! Latency is measured per request, from sending the signed request to
//! having the whole answer; a flow also includes reading the outbox and
//! signing the second request.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use pod_adapters_local::{LocalAccessTokens, LocalUsers, Outbox, OutboxEntry, SystemClock};
use pod_alexa::envelope::{RequestEnvelope, ResponseEnvelope};
use pod_alexa::verify::DevSigningKeys;
use pod_ports::Clock;
use pod_server::app::{
    ALEXA_DEV_DIR, dev_signing_keys, local_access_tokens, local_token_key, open_store,
};
use pod_server::simulate::{Simulator, Utterance};

/// Drive a running `pod serve` with N concurrent simulated Alexa users.
#[derive(Debug, Parser)]
struct Args {
    /// The skill endpoint.
    #[arg(long, default_value = "http://127.0.0.1:7100/alexa")]
    url: String,
    /// The server's data folder (dev signing keys, token key, database, outbox).
    #[arg(long, default_value = "pod-data")]
    data_dir: PathBuf,
    /// Simulated users running at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// How long to run (e.g. 10s, 1m).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    duration: Duration,
    /// Stop after this many flows in all instead of after --duration.
    #[arg(long)]
    flows: Option<u64>,
    /// Codes one account may be sent before its user moves to a new account
    /// (keep it at or below the server's POD_MAX_CODES_PER_HOUR).
    #[arg(long, default_value_t = 100)]
    codes_per_user: u32,
    /// The access tokens' audience (the server's POD_API_AUDIENCE).
    #[arg(long, default_value = "pod")]
    audience: String,
    /// The skill id to send (the server's POD_SKILL_ID, if set).
    #[arg(long)]
    skill_id: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.data_dir.join(ALEXA_DEV_DIR).is_dir() {
        bail!(
            "{} has no development Alexa CA: start `pod serve` with this data folder first",
            args.data_dir.display()
        );
    }
    let driver = Arc::new(Driver::new(args).await?);

    // One flow before the clock starts: fills the server's chain cache and
    // shows that the setup works before N users pile on.
    let mut warm_up = driver.new_account("warmup").await?;
    driver
        .flow(&mut warm_up, &mut Stats::default())
        .await
        .context("the warm-up flow failed")?;

    let started = Instant::now();
    let deadline = started + driver.args.duration;
    let mut workers = Vec::new();
    for user in 0..driver.args.concurrency {
        let driver = driver.clone();
        workers.push(tokio::spawn(async move {
            driver.simulated_user(user, deadline).await
        }));
    }
    let mut total = Stats::default();
    for worker in workers {
        total.merge(worker.await??);
    }
    let elapsed = started.elapsed();
    total.report(&driver.args, elapsed);
    Ok(())
}

/// What every simulated user shares.
struct Driver {
    args: Args,
    client: reqwest::Client,
    keys: Arc<DevSigningKeys>,
    tokens: LocalAccessTokens,
    users: LocalUsers,
    outbox: OutboxTail,
    /// Tells this run's account names apart from earlier runs'.
    run: String,
    flows_started: AtomicU64,
}

/// One local account and the simulated device speaking for it.
struct Account {
    customer: String,
    simulator: Simulator,
    codes_sent: u32,
}

impl Driver {
    async fn new(args: Args) -> anyhow::Result<Driver> {
        let store = Arc::new(open_store(&args.data_dir, None).await?);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let tokens = local_access_tokens(
            &local_token_key(&args.data_dir)?,
            &args.audience,
            clock.clone(),
        );
        Ok(Driver {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .pool_max_idle_per_host(args.concurrency)
                .build()?,
            keys: Arc::new(dev_signing_keys(&args.data_dir)?),
            tokens,
            users: LocalUsers::new(store, clock),
            outbox: OutboxTail::open(Outbox::in_data_dir(&args.data_dir).path())?,
            run: uuid::Uuid::new_v4().simple().to_string()[..6].to_owned(),
            flows_started: AtomicU64::new(0),
            args,
        })
    }

    /// Adds a fresh local user `load-<run>-<label>` and gives it a one-day
    /// access token.
    async fn new_account(&self, label: &str) -> anyhow::Result<Account> {
        let name = format!("load-{}-{label}", self.run);
        let added = self
            .users
            .add(&name, &format!("{name}@example.com"), None)
            .await
            .with_context(|| format!("cannot add the user {name}"))?;
        let token = self
            .tokens
            .issue(&added.id, Duration::from_secs(24 * 3600), SystemClock.now());
        let simulator = Simulator::new(
            &self.args.url,
            dev_signing_keys(&self.args.data_dir)?,
            Some(token),
            self.args.skill_id.clone(),
        )?;
        Ok(Account {
            customer: added.id.as_str().to_owned(),
            simulator,
            codes_sent: 0,
        })
    }

    fn may_start_flow(&self, deadline: Instant) -> bool {
        match self.args.flows {
            Some(limit) => self.flows_started.fetch_add(1, Ordering::Relaxed) < limit,
            None => Instant::now() < deadline,
        }
    }

    /// One simulated user: flows until the run is over.
    async fn simulated_user(&self, user: usize, deadline: Instant) -> anyhow::Result<Stats> {
        let mut stats = Stats::default();
        let mut n = 0;
        let mut account = self.new_account(&format!("{user}-{n}")).await?;
        while self.may_start_flow(deadline) {
            if account.codes_sent >= self.args.codes_per_user {
                n += 1;
                account = self.new_account(&format!("{user}-{n}")).await?;
            }
            if let Err(error) = self.flow(&mut account, &mut stats).await {
                stats.errors += 1;
                if stats.errors <= 3 {
                    eprintln!("user {user}: {error:#}");
                }
            }
        }
        Ok(stats)
    }

    /// Order, read the code, confirm.
    async fn flow(&self, account: &mut Account, stats: &mut Stats) -> anyhow::Result<()> {
        let flow_started = Instant::now();
        let order = account.simulator.envelope(&intent(
            "GetMeSomePizzaIntent",
            &[("Size", "large"), ("Toppings", "pepperoni")],
        ));
        account.codes_sent += 1;
        let took = self.post(&order, "I have received", stats).await?;
        stats.order.push(took);

        let code = self.outbox.code_for(&account.customer).await?;
        let confirm = account
            .simulator
            .envelope(&intent("AuthorizePizzaOrderIntent", &[("Code", &code)]));
        let took = self.post(&confirm, "Order confirmed", stats).await?;
        stats.confirm.push(took);
        stats.flow.push(flow_started.elapsed());
        Ok(())
    }

    /// Signs and posts one envelope; returns how long the server took,
    /// after checking that the speech starts with `expected`.
    async fn post(
        &self,
        envelope: &RequestEnvelope,
        expected: &str,
        stats: &mut Stats,
    ) -> anyhow::Result<Duration> {
        let body = serde_json::to_vec(envelope)?;
        // Alexa's work; off the async threads so it does not delay the
        // other users' answers.
        let signing = Instant::now();
        let keys = self.keys.clone();
        let (body, signature) = tokio::task::spawn_blocking(move || {
            let signature = keys.sign(&body);
            (body, signature)
        })
        .await?;
        stats.signing += signing.elapsed();

        let started = Instant::now();
        let response = self
            .client
            .post(&self.args.url)
            .header("content-type", "application/json")
            .header("SignatureCertChainUrl", self.keys.chain_url())
            .header("Signature-256", signature)
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let answer = response.bytes().await?;
        let took = started.elapsed();

        if !status.is_success() {
            bail!("HTTP {status}: {}", String::from_utf8_lossy(&answer));
        }
        let answer: ResponseEnvelope = serde_json::from_slice(&answer)
            .with_context(|| format!("HTTP {status}: not an Alexa response envelope"))?;
        let speech = answer.speech().unwrap_or_default();
        if !speech.starts_with(expected) {
            bail!("HTTP {status}: unexpected answer: {speech}");
        }
        Ok(took)
    }
}

fn intent(name: &str, slots: &[(&str, &str)]) -> Utterance {
    Utterance::intent(name, slots)
}

/// Follows the outbox file from where it ended when the driver started,
/// keeping the newest order code per customer.
struct OutboxTail {
    path: PathBuf,
    state: Mutex<TailState>,
}

#[derive(Default)]
struct TailState {
    reader: Option<BufReader<File>>,
    /// A line the server had not finished writing at the last read.
    partial: String,
    latest: HashMap<String, String>,
}

impl OutboxTail {
    fn open(path: &Path) -> anyhow::Result<OutboxTail> {
        let mut state = TailState::default();
        if path.exists() {
            let mut file = File::open(path)?;
            file.seek(SeekFrom::End(0))?;
            state.reader = Some(BufReader::new(file));
        }
        Ok(OutboxTail {
            path: path.to_owned(),
            state: Mutex::new(state),
        })
    }

    /// The code the customer's last order sent. The server appends it
    /// before it answers, so it is normally there on the first look.
    async fn code_for(&self, customer: &str) -> anyhow::Result<String> {
        for _ in 0..400 {
            if let Some(code) = self.take(customer)? {
                return Ok(code);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        bail!("no code for {customer} in {}", self.path.display())
    }

    fn take(&self, customer: &str) -> anyhow::Result<Option<String>> {
        let mut state = self.state.lock().expect("outbox tail");
        let state = &mut *state;
        if state.reader.is_none() && self.path.exists() {
            // Created by this run's first code: read it from the start.
            state.reader = Some(BufReader::new(File::open(&self.path)?));
        }
        if let Some(reader) = &mut state.reader {
            while reader.read_line(&mut state.partial)? > 0 {
                if !state.partial.ends_with('\n') {
                    break;
                }
                if let Ok(entry) = serde_json::from_str::<OutboxEntry>(&state.partial)
                    && entry.purpose == "order"
                {
                    state.latest.insert(entry.customer, entry.code);
                }
                state.partial.clear();
            }
        }
        Ok(state.latest.remove(customer))
    }
}

#[derive(Default)]
struct Stats {
    order: Vec<Duration>,
    confirm: Vec<Duration>,
    flow: Vec<Duration>,
    signing: Duration,
    errors: u64,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.order.extend(other.order);
        self.confirm.extend(other.confirm);
        self.flow.extend(other.flow);
        self.signing += other.signing;
        self.errors += other.errors;
    }

    fn report(mut self, args: &Args, elapsed: Duration) {
        let flows = self.flow.len();
        println!(
            "pod load: {} users, {:.1} s, {flows} flows, {} errors: {:.1} flows/s",
            args.concurrency,
            elapsed.as_secs_f64(),
            self.errors,
            flows as f64 / elapsed.as_secs_f64(),
        );
        println!(
            "{:<28} {:>7} {:>9} {:>9} {:>9} {:>9}",
            "latency (ms)", "n", "p50", "p90", "p99", "max"
        );
        for (name, samples) in [
            ("GetMeSomePizzaIntent", &mut self.order),
            ("AuthorizePizzaOrderIntent", &mut self.confirm),
            ("whole flow", &mut self.flow),
        ] {
            samples.sort();
            let at = |p: f64| {
                let rank = ((samples.len() as f64 * p).ceil() as usize).max(1);
                samples.get(rank - 1).map_or(0.0, |d| d.as_secs_f64() * 1e3)
            };
            println!(
                "{name:<28} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                samples.len(),
                at(0.50),
                at(0.90),
                at(0.99),
                at(1.0),
            );
        }
        let requests = (self.order.len() + self.confirm.len()).max(1);
        println!(
            "client-side RSA signing (same machine): {:.2} ms per request on average",
            self.signing.as_secs_f64() * 1e3 / requests as f64
        );
    }
}
