//! pod-adapters-http
