//! pod-server
