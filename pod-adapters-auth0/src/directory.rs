//! [`Auth0Directory`]: contact points and passwordless identities through
//! the Management API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pod_domain::{ContactPoints, CustomerId, Destination, Timestamp};
use pod_ports::{CustomerDirectory, DirectoryError};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::config::Auth0Config;
use crate::http::{Retry, UpstreamError};
use crate::management::Management;

/// The most users kept in the directory cache.
const MAX_CACHED_USERS: usize = 10_000;

/// The fields pod reads from a user.
const USER_FIELDS: &str = "user_id,email,phone_number,user_metadata,identities";

#[derive(Debug, Clone, Deserialize)]
struct Identity {
    #[serde(default)]
    provider: String,
    #[serde(default)]
    connection: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct User {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone_number: Option<String>,
    #[serde(default)]
    user_metadata: Option<Value>,
    #[serde(default)]
    identities: Vec<Identity>,
}

impl User {
    fn contact_points(&self) -> ContactPoints {
        let text = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|s| !s.is_empty() && s.len() <= 320)
                .map(str::to_owned)
        };
        let metadata_phone = self
            .user_metadata
            .as_ref()
            .and_then(|m| m.get("phone_number"))
            .and_then(Value::as_str);
        ContactPoints {
            email: text(self.email.as_deref()),
            phone: text(self.phone_number.as_deref()).or_else(|| text(metadata_phone)),
        }
    }

    fn has_passwordless(&self, provider: &str) -> bool {
        self.identities
            .iter()
            .any(|i| i.provider == provider || i.connection.as_deref() == Some(provider))
    }
}

struct CachedUser {
    user: User,
    fetched_at: Timestamp,
}

/// Where customers can be reached, from Auth0's Management API, and their
/// passwordless identities (created and linked when missing).
///
/// Answers are cached for [`crate::CacheTtls::directory`] (default 60 s), so
/// one conversation costs one lookup.
pub struct Auth0Directory {
    config: Arc<Auth0Config>,
    management: Arc<Management>,
    users: Mutex<HashMap<CustomerId, CachedUser>>,
}

impl std::fmt::Debug for Auth0Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth0Directory")
            .field("domain", &self.config.domain)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: UpstreamError) -> DirectoryError {
    DirectoryError::Unavailable(e.to_string())
}

impl Auth0Directory {
    pub(crate) fn new(config: Arc<Auth0Config>, management: Arc<Management>) -> Self {
        Auth0Directory {
            config,
            management,
            users: Mutex::new(HashMap::new()),
        }
    }

    /// Forgets what is cached about `customer` (after a profile change).
    pub fn invalidate(&self, customer: &CustomerId) {
        self.lock().remove(customer);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CustomerId, CachedUser>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cached(&self, customer: &CustomerId, now: Timestamp) -> Option<User> {
        let ttl = self.config.ttls.directory;
        self.lock()
            .get(customer)
            .filter(|c| now.since(c.fetched_at) < ttl)
            .map(|c| c.user.clone())
    }

    fn remember(&self, customer: &CustomerId, user: User, now: Timestamp) {
        let ttl = self.config.ttls.directory;
        let mut users = self.lock();
        if users.len() >= MAX_CACHED_USERS {
            users.retain(|_, c| now.since(c.fetched_at) < ttl);
            if users.len() >= MAX_CACHED_USERS {
                users.clear();
            }
        }
        users.insert(
            customer.clone(),
            CachedUser {
                user,
                fetched_at: now,
            },
        );
    }

    /// `api/v2/users/{id}/{tail…}` with the id fully percent-encoded
    /// (`auth0|abc` → `auth0%7Cabc`).
    fn user_url(&self, id: &str, tail: &[&str]) -> url::Url {
        let mut relative = format!("api/v2/users/{}", encode_segment(id));
        for segment in tail {
            relative.push('/');
            relative.push_str(&encode_segment(segment));
        }
        self.config.endpoint(&relative)
    }

    async fn user(&self, customer: &CustomerId) -> Result<User, DirectoryError> {
        let now = self.config.now();
        if let Some(user) = self.cached(customer, now) {
            return Ok(user);
        }
        let url = self.user_url(customer.as_str(), &[]);
        let reply = self
            .management
            .call("get user", Retry::Safe, |c| {
                c.get(url.clone())
                    .query(&[("fields", USER_FIELDS), ("include_fields", "true")])
            })
            .await
            .map_err(unavailable)?;
        match reply.status {
            s if s.is_success() => {
                let user: User = reply.json().map_err(unavailable)?;
                self.remember(customer, user.clone(), now);
                Ok(user)
            }
            StatusCode::NOT_FOUND => Err(DirectoryError::UnknownCustomer),
            // Auth0 answers 400 for ids that cannot exist.
            StatusCode::BAD_REQUEST => Err(DirectoryError::UnknownCustomer),
            _ => Err(DirectoryError::Unavailable(reply.summary())),
        }
    }

    /// Creates the passwordless user for `destination`; its id without the
    /// `provider|` prefix. A 409 (it exists) finds the existing one.
    async fn create_passwordless_user(
        &self,
        customer: &CustomerId,
        destination: &Destination,
    ) -> Result<String, DirectoryError> {
        let provider = destination.channel().as_str();
        let address_field = match destination.channel() {
            pod_domain::Channel::Sms => "phone_number",
            pod_domain::Channel::Email => "email",
        };
        let body = json!({ "connection": provider, address_field: destination.address() });
        let url = self.config.endpoint("api/v2/users");
        let reply = self
            .management
            .call("create passwordless user", Retry::Unsafe, |c| {
                c.post(url.clone()).json(&body)
            })
            .await
            .map_err(unavailable)?;
        match reply.status {
            s if s.is_success() => {
                let user: User = reply.json().map_err(unavailable)?;
                let id = user
                    .user_id
                    .ok_or_else(|| DirectoryError::Unavailable("created user has no id".into()))?;
                Ok(strip_provider(&id, provider))
            }
            StatusCode::CONFLICT => {
                info!(customer = %customer, channel = provider, "passwordless user exists; linking it");
                self.find_passwordless_user(customer, destination).await
            }
            _ => Err(DirectoryError::Unavailable(reply.summary())),
        }
    }

    async fn find_passwordless_user(
        &self,
        customer: &CustomerId,
        destination: &Destination,
    ) -> Result<String, DirectoryError> {
        let provider = destination.channel().as_str();
        let address = destination.address();
        let reply = match destination.channel() {
            pod_domain::Channel::Email => {
                let url = self.config.endpoint("api/v2/users-by-email");
                self.management
                    .call("find user by email", Retry::Safe, |c| {
                        c.get(url.clone())
                            .query(&[("email", address), ("fields", USER_FIELDS)])
                    })
                    .await
            }
            pod_domain::Channel::Sms => {
                let phone: String = address
                    .chars()
                    .filter(|c| c.is_ascii_digit() || *c == '+')
                    .collect();
                let query = format!("phone_number:\"{phone}\" AND identities.connection:\"sms\"");
                let url = self.config.endpoint("api/v2/users");
                self.management
                    .call("find user by phone", Retry::Safe, |c| {
                        c.get(url.clone()).query(&[
                            ("q", query.as_str()),
                            ("search_engine", "v3"),
                            ("fields", USER_FIELDS),
                        ])
                    })
                    .await
            }
        }
        .map_err(unavailable)?;
        if !reply.status.is_success() {
            return Err(DirectoryError::Unavailable(reply.summary()));
        }
        let users: Vec<User> = reply.json().map_err(unavailable)?;
        let prefix = format!("{provider}|");
        let found = users
            .iter()
            .filter_map(|u| u.user_id.as_deref())
            .find(|id| id.starts_with(&prefix) && *id != customer.as_str());
        match found {
            Some(id) => Ok(strip_provider(id, provider)),
            None => {
                warn!(customer = %customer, channel = provider, "passwordless identity belongs to another account");
                Err(DirectoryError::Unavailable(format!(
                    "the {provider} identity for this address cannot be linked"
                )))
            }
        }
    }

    async fn link(
        &self,
        customer: &CustomerId,
        provider: &str,
        secondary: &str,
    ) -> Result<(), DirectoryError> {
        let url = self.user_url(customer.as_str(), &["identities"]);
        let body = json!({ "provider": provider, "user_id": secondary });
        let reply = self
            .management
            .call("link identity", Retry::Unsafe, |c| {
                c.post(url.clone()).json(&body)
            })
            .await
            .map_err(unavailable)?;
        match reply.status {
            s if s.is_success() => Ok(()),
            // Linked already (a concurrent request won).
            StatusCode::CONFLICT => Ok(()),
            StatusCode::NOT_FOUND => Err(DirectoryError::UnknownCustomer),
            _ => Err(DirectoryError::Unavailable(reply.summary())),
        }
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `sms|abc` → `abc`; ids without the prefix stay as they are.
fn strip_provider(id: &str, provider: &str) -> String {
    id.strip_prefix(provider)
        .and_then(|rest| rest.strip_prefix('|'))
        .unwrap_or(id)
        .to_owned()
}

#[async_trait]
impl CustomerDirectory for Auth0Directory {
    async fn contact_points(&self, customer: &CustomerId) -> Result<ContactPoints, DirectoryError> {
        Ok(self.user(customer).await?.contact_points())
    }

    async fn ensure_passwordless_identity(
        &self,
        customer: &CustomerId,
        destination: &Destination,
    ) -> Result<(), DirectoryError> {
        let provider = destination.channel().as_str();
        let user = self.user(customer).await?;
        if user.has_passwordless(provider) {
            return Ok(());
        }
        let secondary = self.create_passwordless_user(customer, destination).await?;
        self.link(customer, provider, &secondary).await?;
        info!(customer = %customer, channel = provider, "passwordless identity linked");
        let mut users = self.lock();
        if let Some(cached) = users.get_mut(customer) {
            cached.user.identities.push(Identity {
                provider: provider.to_owned(),
                connection: Some(provider.to_owned()),
            });
        }
        Ok(())
    }
}
