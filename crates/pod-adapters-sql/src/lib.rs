//! pod-adapters-sql
