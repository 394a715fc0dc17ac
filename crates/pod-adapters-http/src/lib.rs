//! HTTP surfaces of pod.

pub mod verify;
