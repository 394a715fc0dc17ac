//! The fake tenant's users: [`FakeUser`] (one user and its Management API
//! JSON) and [`Users`], the user table with Auth0's rules for it:
//! passwordless users (`sms|…`, `email|…`) are unique per address and made
//! on first sign-in, and a secondary identity links to at most one primary.

use std::collections::HashMap;

use serde_json::{Value, json};

/// A user of the fake tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    /// `auth0|…`, `sms|…`, `email|…`.
    pub id: String,
    /// The email address.
    pub email: Option<String>,
    /// The top-level `phone_number`.
    pub phone_number: Option<String>,
    /// `user_metadata.phone_number`, as the original sample kept it.
    pub metadata_phone: Option<String>,
    /// Linked identities as `(provider, user_id)`, besides the user's own.
    pub linked: Vec<(String, String)>,
}

impl FakeUser {
    /// A database user `id` with nothing else.
    pub fn new(id: &str) -> Self {
        FakeUser {
            id: id.to_owned(),
            email: None,
            phone_number: None,
            metadata_phone: None,
            linked: Vec::new(),
        }
    }

    /// With an email address.
    pub fn with_email(mut self, email: &str) -> Self {
        self.email = Some(email.to_owned());
        self
    }

    /// With a top-level phone number.
    pub fn with_phone(mut self, phone: &str) -> Self {
        self.phone_number = Some(phone.to_owned());
        self
    }

    /// With `user_metadata.phone_number`.
    pub fn with_metadata_phone(mut self, phone: &str) -> Self {
        self.metadata_phone = Some(phone.to_owned());
        self
    }

    fn provider_and_id(&self) -> (&str, &str) {
        self.id
            .split_once('|')
            .unwrap_or(("auth0", self.id.as_str()))
    }

    /// The user as the Management API returns it.
    pub(super) fn to_json(&self) -> Value {
        let (provider, own) = self.provider_and_id();
        let mut identities = vec![json!({
            "provider": provider, "user_id": own, "isSocial": false,
            "connection": if provider == "auth0" { "Username-Password-Authentication" } else { provider },
        })];
        for (p, id) in &self.linked {
            identities
                .push(json!({ "provider": p, "user_id": id, "connection": p, "isSocial": false }));
        }
        let mut user = json!({ "user_id": self.id, "identities": identities });
        if let Some(email) = &self.email {
            user["email"] = json!(email);
        }
        if let Some(phone) = &self.phone_number {
            user["phone_number"] = json!(phone);
        }
        if let Some(phone) = &self.metadata_phone {
            user["user_metadata"] = json!({ "phone_number": phone });
        }
        user
    }
}

/// Why [`Users::link`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LinkError {
    /// The secondary user does not exist.
    NoSecondary,
    /// The secondary identity is already linked to a primary.
    AlreadyLinked,
    /// The primary user does not exist.
    NoPrimary,
}

/// The user table.
#[derive(Debug)]
pub(super) struct Users {
    by_id: HashMap<String, FakeUser>,
    /// Secondary id (`sms|x`) → primary id.
    linked_to: HashMap<String, String>,
    /// The number in the next passwordless user's id.
    next_id: u64,
}

impl Users {
    /// No users.
    pub(super) fn new() -> Self {
        Users {
            by_id: HashMap::new(),
            linked_to: HashMap::new(),
            next_id: 1,
        }
    }

    /// Adds (or replaces) a user.
    pub(super) fn insert(&mut self, user: FakeUser) {
        self.by_id.insert(user.id.clone(), user);
    }

    /// The user `id`.
    pub(super) fn get(&self, id: &str) -> Option<&FakeUser> {
        self.by_id.get(id)
    }

    /// Every user with `email`, whatever the connection.
    pub(super) fn by_email<'a>(&'a self, email: &'a str) -> impl Iterator<Item = &'a FakeUser> {
        self.by_id
            .values()
            .filter(move |u| u.email.as_deref() == Some(email))
    }

    /// The `connection` (`sms` or `email`) users with `address` (phone
    /// number or email address).
    pub(super) fn passwordless<'a>(
        &'a self,
        connection: &str,
        address: &'a str,
    ) -> impl Iterator<Item = &'a FakeUser> {
        let prefix = format!("{connection}|");
        let sms = connection == "sms";
        self.by_id.values().filter(move |u| {
            u.id.starts_with(&prefix)
                && if sms {
                    u.phone_number.as_deref() == Some(address)
                } else {
                    u.email.as_deref() == Some(address)
                }
        })
    }

    /// Makes a new `connection` (`sms` or `email`) user for `address`.
    pub(super) fn create_passwordless(&mut self, connection: &str, address: &str) -> &FakeUser {
        let id = format!("{connection}|{:016x}", self.next_id);
        self.next_id += 1;
        let mut user = FakeUser::new(&id);
        if connection == "sms" {
            user.phone_number = Some(address.to_owned());
        } else {
            user.email = Some(address.to_owned());
        }
        self.by_id.entry(id).insert_entry(user).into_mut()
    }

    /// Who signs in with a code sent over `connection` to `address`: the
    /// passwordless user (made now if there is none yet), or the primary it
    /// is linked to; their id.
    pub(super) fn sign_in(&mut self, connection: &str, address: &str) -> String {
        let existing = self
            .passwordless(connection, address)
            .next()
            .map(|u| u.id.clone());
        let secondary = match existing {
            Some(id) => id,
            None => self.create_passwordless(connection, address).id.clone(),
        };
        self.linked_to.get(&secondary).cloned().unwrap_or(secondary)
    }

    /// Links the identity `provider|secondary_id` to the user `primary`;
    /// the primary, now.
    pub(super) fn link(
        &mut self,
        primary: &str,
        provider: String,
        secondary_id: String,
    ) -> Result<&FakeUser, LinkError> {
        let secondary = format!("{provider}|{secondary_id}");
        if !self.by_id.contains_key(&secondary) {
            return Err(LinkError::NoSecondary);
        }
        if self.linked_to.contains_key(&secondary) {
            return Err(LinkError::AlreadyLinked);
        }
        let Some(user) = self.by_id.get_mut(primary) else {
            return Err(LinkError::NoPrimary);
        };
        user.linked.push((provider, secondary_id));
        self.linked_to.insert(secondary, primary.to_owned());
        Ok(user)
    }
}
