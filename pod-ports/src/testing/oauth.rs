//! [`OAuthStore`] for [`MemoryStore`]: every method under the one mutex,
//! so each is atomic like the SQL store's transactions.

use async_trait::async_trait;
use pod_domain::{CustomerId, Timestamp};

use super::MemoryStore;
use crate::StoreError;
use crate::oauth::{
    AuthorizationCode, Grant, GrantId, NewGrant, OAuthClient, OAuthStore, Redemption, Rotation,
    SPENT_REFRESH_RETENTION,
};

/// The OAuth part of the memory store's state.
#[derive(Debug, Default)]
pub(super) struct OAuthState {
    clients: Vec<OAuthClient>,
    /// Codes with the grant their redemption made, if any, and whether used.
    codes: Vec<(AuthorizationCode, bool, Option<GrantId>)>,
    grants: Vec<Grant>,
    /// Refresh token digests: (digest, grant, when spent).
    refresh: Vec<(Vec<u8>, GrantId, Option<Timestamp>)>,
}

impl OAuthState {
    fn revoke(&mut self, id: &GrantId, now: Timestamp) -> u64 {
        let mut n = 0;
        for grant in self.grants.iter_mut().filter(|g| &g.id == id) {
            if grant.revoked_at.is_none() {
                grant.revoked_at = Some(now);
                n += 1;
            }
        }
        n
    }
}

#[async_trait]
impl OAuthStore for MemoryStore {
    async fn add_client(&self, client: &OAuthClient) -> Result<(), StoreError> {
        let mut state = self.state();
        if state.oauth.clients.iter().any(|c| c.id == client.id) {
            return Err(StoreError::Conflict);
        }
        state.oauth.clients.push(client.clone());
        Ok(())
    }

    async fn client(&self, id: &str) -> Result<Option<OAuthClient>, StoreError> {
        Ok(self
            .state()
            .oauth
            .clients
            .iter()
            .find(|c| c.id == id)
            .cloned())
    }

    async fn clients(&self) -> Result<Vec<OAuthClient>, StoreError> {
        let mut clients = self.state().oauth.clients.clone();
        clients.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(clients)
    }

    async fn remove_client(&self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        let mut state = self.state();
        let oauth = &mut state.oauth;
        let before = oauth.clients.len();
        oauth.clients.retain(|c| c.id != id);
        if oauth.clients.len() == before {
            return Ok(false);
        }
        oauth.codes.retain(|(c, _, _)| c.client_id != id);
        for grant in oauth.grants.iter_mut().filter(|g| g.client_id == id) {
            grant.revoked_at.get_or_insert(now);
        }
        Ok(true)
    }

    async fn save_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        let mut state = self.state();
        let horizon = code.created_at.unix_millis() - 86_400_000;
        state
            .oauth
            .codes
            .retain(|(c, _, _)| c.expires_at.unix_millis() > horizon);
        if state
            .oauth
            .codes
            .iter()
            .any(|(c, _, _)| c.digest == code.digest)
        {
            return Err(StoreError::Conflict);
        }
        state.oauth.codes.push((code.clone(), false, None));
        Ok(())
    }

    async fn code(&self, digest: &[u8]) -> Result<Option<AuthorizationCode>, StoreError> {
        Ok(self
            .state()
            .oauth
            .codes
            .iter()
            .find(|(c, _, _)| c.digest == digest)
            .map(|(c, _, _)| c.clone()))
    }

    async fn consume_code(
        &self,
        digest: &[u8],
        grant: Option<&NewGrant>,
        now: Timestamp,
    ) -> Result<Redemption, StoreError> {
        let mut state = self.state();
        let oauth = &mut state.oauth;
        let Some(entry) = oauth.codes.iter_mut().find(|(c, _, _)| c.digest == digest) else {
            return Ok(Redemption::Unknown);
        };
        if entry.1 {
            let made = entry.2.clone();
            if let Some(id) = made {
                oauth.revoke(&id, now);
            }
            return Ok(Redemption::Reused);
        }
        entry.1 = true;
        if let Some(new) = grant {
            entry.2 = Some(new.grant.id.clone());
            oauth.grants.push(new.grant.clone());
            oauth
                .refresh
                .push((new.refresh_digest.clone(), new.grant.id.clone(), None));
        }
        Ok(Redemption::Redeemed)
    }

    async fn refresh_grant(&self, digest: &[u8]) -> Result<Option<Grant>, StoreError> {
        let state = self.state();
        let Some((_, id, _)) = state.oauth.refresh.iter().find(|(d, _, _)| d == digest) else {
            return Ok(None);
        };
        Ok(state.oauth.grants.iter().find(|g| &g.id == id).cloned())
    }

    async fn rotate_refresh(
        &self,
        old: &[u8],
        new: &[u8],
        now: Timestamp,
    ) -> Result<Rotation, StoreError> {
        let mut state = self.state();
        let oauth = &mut state.oauth;
        let Some(entry) = oauth.refresh.iter_mut().find(|(d, _, _)| d == old) else {
            return Ok(Rotation::Unknown);
        };
        let id = entry.1.clone();
        let spent = entry.2;
        let Some(grant) = oauth.grants.iter().find(|g| g.id == id).cloned() else {
            return Ok(Rotation::Unknown);
        };
        if !grant.is_active() {
            return Ok(Rotation::Revoked);
        }
        if spent.is_some() {
            oauth.revoke(&id, now);
            return Ok(Rotation::Reused);
        }
        entry.2 = Some(now);
        let horizon = now.unix_millis() - SPENT_REFRESH_RETENTION.as_millis() as i64;
        oauth
            .refresh
            .retain(|(_, g, spent)| g != &id || spent.is_none_or(|at| at.unix_millis() >= horizon));
        oauth.refresh.push((new.to_vec(), id, None));
        Ok(Rotation::Rotated(grant))
    }

    async fn grant(&self, id: &GrantId) -> Result<Option<Grant>, StoreError> {
        Ok(self
            .state()
            .oauth
            .grants
            .iter()
            .find(|g| &g.id == id)
            .cloned())
    }

    async fn grants_of(&self, customer: &CustomerId) -> Result<Vec<Grant>, StoreError> {
        let mut grants: Vec<Grant> = self
            .state()
            .oauth
            .grants
            .iter()
            .filter(|g| &g.customer == customer && g.is_active())
            .cloned()
            .collect();
        grants.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        Ok(grants)
    }

    async fn revoke_grants(
        &self,
        client: Option<&str>,
        customer: Option<&CustomerId>,
        grant: Option<&GrantId>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut state = self.state();
        let mut n = 0;
        for g in state.oauth.grants.iter_mut() {
            let matches = client.is_none_or(|c| g.client_id == c)
                && customer.is_none_or(|c| &g.customer == c)
                && grant.is_none_or(|id| &g.id == id);
            if matches && g.revoked_at.is_none() {
                g.revoked_at = Some(now);
                n += 1;
            }
        }
        Ok(n)
    }
}
