//! `pod clients`: the OAuth clients (Alexa skills) that may link accounts
//! against the embedded mode, and revoking what they hold.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Subcommand;
use pod_adapters_local::{LocalUsers, SystemClock};
use pod_domain::{CustomerId, Timestamp};
use pod_ports::oauth::{GrantId, NewClient, OAuthError};
use pod_ports::{Clock, GrantTokens, OAuthStore};

use crate::app::{oauth_service, open_existing_store, open_store};
use crate::settings::StoreArgs;

/// `pod clients …`.
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client and print its secret (shown only now; pod keeps its SHA-256).
    Add {
        /// The client id ([A-Za-z0-9._-], up to 64), as you enter it in the Alexa console.
        id: String,
        /// What the consent page calls it [default: the id].
        #[arg(long, default_value = "")]
        name: String,
        /// A redirect URI it may use, exactly (repeatable; Alexa's console lists three).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the clients and their redirect URIs.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove a client; every account linked through it is unlinked.
    Remove {
        /// The client id.
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke what a client holds (its refresh and access tokens): for one
    /// user, or for everyone; the client stays registered.
    Revoke {
        /// The client id.
        id: String,
        /// Only this user's link (user name).
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// `pod clients` registers and revokes, and issues no token.
struct NoTokens;

impl GrantTokens for NoTokens {
    fn issue(&self, _: &CustomerId, _: &GrantId, _: Duration, _: Timestamp) -> String {
        String::new()
    }

    fn grant_of(&self, _: &str) -> Option<GrantId> {
        None
    }
}

/// Runs `pod clients …`.
pub async fn clients_command(command: ClientsCommand) -> anyhow::Result<()> {
    let store = match &command {
        ClientsCommand::Add { store, .. } => {
            open_store(&store.data_dir, store.database_url.as_deref()).await?
        }
        ClientsCommand::List { store }
        | ClientsCommand::Remove { store, .. }
        | ClientsCommand::Revoke { store, .. } => {
            open_existing_store(&store.data_dir, store.database_url.as_deref()).await?
        }
    };
    let store = Arc::new(store);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut out = std::io::stdout().lock();
    match command {
        ClientsCommand::Add {
            id,
            name,
            redirect_uris,
            ..
        } => {
            let service =
                oauth_service(Duration::from_secs(3600), &store, Arc::new(NoTokens), clock);
            let (client, secret) = match service
                .register_client(NewClient {
                    id: id.clone(),
                    name,
                    redirect_uris,
                })
                .await
            {
                Ok(made) => made,
                Err(OAuthError::InvalidRequest(why)) => bail!("cannot add {id}: {why}"),
                Err(OAuthError::UnauthorizedClient(_)) => {
                    bail!("a client {id} exists; `pod clients remove {id}` first to replace it")
                }
                Err(other) => bail!("cannot add {id}: {}", other.description()),
            };
            writeln!(out, "added client {} ({})", client.id, client.name)?;
            writeln!(out, "client id:     {}", client.id)?;
            writeln!(out, "client secret: {secret}")?;
            writeln!(
                out,
                "\nThe secret is shown only now: paste it into the Alexa developer console \
                 (Account Linking, Your Secret). pod keeps only its SHA-256."
            )?;
        }
        ClientsCommand::List { .. } => {
            for client in store.clients().await? {
                writeln!(out, "{:<24} {}", client.id, client.name)?;
                for uri in &client.redirect_uris {
                    writeln!(out, "{:<24}   {uri}", "")?;
                }
            }
        }
        ClientsCommand::Remove { id, .. } => {
            if store.remove_client(&id, clock.now()).await? {
                writeln!(out, "removed client {id}; its links are revoked")?;
            } else {
                bail!("no client {id}; `pod clients list` shows what there is")
            }
        }
        ClientsCommand::Revoke { id, user, .. } => {
            if store.client(&id).await?.is_none() {
                bail!("no client {id}; `pod clients list` shows what there is")
            }
            let customer = match &user {
                Some(name) => {
                    let users = LocalUsers::new(store.clone(), clock.clone());
                    let found = users
                        .find(name)
                        .await
                        .context("cannot read users")?
                        .with_context(|| format!("no user {name}"))?;
                    Some(found.id)
                }
                None => None,
            };
            let n = store
                .revoke_grants(Some(&id), customer.as_ref(), None, clock.now())
                .await?;
            let whose = user.map_or_else(|| "every user".to_owned(), |u| format!("user {u}"));
            writeln!(out, "revoked {n} link(s) of client {id} for {whose}")?;
        }
    }
    Ok(())
}
