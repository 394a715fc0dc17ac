//! Prepares a data folder for the shared load driver
//! (`../shared/bench/flow-driver`) in the embedded mode: adds N local users
//! `bench-<n>` to the folder's database and writes the driver's tokens file
//! (`{"<n>": {"token": T, "customer": C}}`) with a day-long access token for
//! each, signed with the folder's token key.
//!
//! ```text
//! cargo run --release -p pod-server --example bench_accounts -- \
//!     --data-dir "$POD_DATA_DIR" --users 4096 --tokens-file tokens.json
//! ```
//!
//! `scripts/bench-embedded.sh` runs it before starting `pod serve`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use pod_adapters_local::{LocalUsers, SystemClock};
use pod_ports::domain::{
    CodeCheck, ConfirmationPolicy, CustomerId, Destination, OrderId, Pizza, PizzaSize,
};
use pod_ports::{AccountStore, Clock};
use pod_server::app::{local_access_tokens, local_token_key, open_store};
use serde_json::{Map, Value, json};

/// Add N local users and write the load driver's tokens file.
#[derive(Debug, Parser)]
struct Args {
    /// The server's data folder.
    #[arg(long)]
    data_dir: PathBuf,
    /// How many users.
    #[arg(long, default_value_t = 4096)]
    users: usize,
    /// Where to write the tokens file.
    #[arg(long)]
    tokens_file: PathBuf,
    /// Confirmed orders to store first for other customers (10 each), to
    /// measure latency against a large database.
    #[arg(long, default_value_t = 0)]
    history_orders: usize,
    /// The server's database, when not the data folder's SQLite file
    /// (the server's POD_DATABASE_URL).
    #[arg(long)]
    database_url: Option<String>,
    /// The access tokens' audience (the server's POD_API_AUDIENCE).
    #[arg(long, default_value = pod_adapters_local::DEFAULT_AUDIENCE)]
    audience: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let store = Arc::new(open_store(&args.data_dir, args.database_url.as_deref()).await?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tokens = local_access_tokens(
        &local_token_key(&args.data_dir)?,
        &args.audience,
        clock.clone(),
    );
    let users = LocalUsers::new(store.clone(), clock.clone());
    let mut file = Map::new();
    for n in 1..=args.users {
        let name = format!("bench-{n}");
        let user = match users.find(&name).await? {
            Some(user) => user,
            None => users
                .add(&name, &format!("{name}@example.com"), None)
                .await
                .with_context(|| format!("cannot add {name}"))?,
        };
        let token = tokens.issue(&user.id, Duration::from_secs(24 * 3600), clock.now());
        file.insert(
            n.to_string(),
            json!({"token": token, "customer": user.id.as_str()}),
        );
    }
    if args.history_orders > 0 {
        add_history(store.clone(), args.history_orders).await?;
    }
    store.close().await;
    std::fs::write(&args.tokens_file, Value::Object(file).to_string())
        .with_context(|| format!("cannot write {}", args.tokens_file.display()))?;
    println!(
        "{} users, tokens in {}",
        args.users,
        args.tokens_file.display()
    );
    Ok(())
}

/// Places and confirms `orders` orders, ten per customer `history|<k>`,
/// through the store's ordinary commits, 64 customers at a time.
async fn add_history(store: Arc<pod_adapters_sql::SqlStore>, orders: usize) -> anyhow::Result<()> {
    const PER_CUSTOMER: usize = 10;
    const TASKS: usize = 64;
    let policy = ConfirmationPolicy::default()
        .with_max_codes_per_hour(100)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let customers = orders.div_ceil(PER_CUSTOMER);
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let clock = SystemClock;
            let pizza = Pizza::new(PizzaSize::Large, []).map_err(|e| anyhow::anyhow!("{e}"))?;
            for k in (task..customers).step_by(TASKS) {
                let customer = CustomerId::parse(format!("history|{k}"))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                for n in 0..PER_CUSTOMER {
                    let id =
                        OrderId::parse(format!("h{k}x{n}")).map_err(|e| anyhow::anyhow!("{e}"))?;
                    let account = store.load_account(&customer).await?;
                    let placed = account
                        .place_order(
                            id.clone(),
                            pizza.clone(),
                            &Destination::email("history@example.com"),
                            None,
                            clock.now(),
                            &policy,
                        )
                        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                    store.commit(&placed.change).await?;
                    let (change, _) = placed
                        .change
                        .account()
                        .apply_order_check(&id, CodeCheck::Valid, clock.now(), &policy)
                        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                    if let Some(change) = change {
                        store.commit(&change).await?;
                    }
                }
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}
