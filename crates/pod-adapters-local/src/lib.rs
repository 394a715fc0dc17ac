//! pod-adapters-local
