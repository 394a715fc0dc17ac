//! pod-adapters-auth0
