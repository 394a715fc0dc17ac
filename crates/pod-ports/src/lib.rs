//! The ports of pod, and the [`OrderingService`] that drives the domain
//! through them.
//!
//! A port is a small object-safe async trait (`Send + Sync`, held as
//! `Arc<dyn Port>`) named for what the service needs from the outside world:
//! who a token belongs to ([`AccessTokens`]), how to reach a customer
//! ([`CustomerDirectory`]), sending and checking one-time codes
//! ([`OneTimeCodes`]), keeping orders ([`OrderStore`]), telling watchers
//! ([`OrderEvents`]), and the time and ids ([`Clock`], [`OrderIds`]). Adapters
//! in other crates implement them; `pod-server` wires them together.
//!
//! With the `mock` feature every port has a `mockall` mock (`MockOrderStore`,
//! ...) for service tests in other crates.

mod codes;
mod identity;
mod service;
mod store;
mod system;

pub use codes::{CodeError, CodeGenerator, CodePurpose, InvalidCode, OneTimeCode, OneTimeCodes};
pub use identity::{AccessTokens, CustomerDirectory, DirectoryError, TokenError};
pub use service::{ConfirmOutcome, OrderingService, PlaceOutcome, Ports, ServiceError};
pub use store::{CodeRecord, CodeStore, LocalUser, OrderStore, StoreError, UserStore};
pub use system::{Clock, OrderEvents, OrderIds};

#[cfg(any(test, feature = "mock"))]
pub use codes::{MockCodeGenerator, MockOneTimeCodes};
#[cfg(any(test, feature = "mock"))]
pub use identity::{MockAccessTokens, MockCustomerDirectory};
#[cfg(any(test, feature = "mock"))]
pub use store::{MockCodeStore, MockOrderStore, MockUserStore};
#[cfg(any(test, feature = "mock"))]
pub use system::{MockClock, MockOrderEvents, MockOrderIds};

/// Re-exported so adapters and embedders name one version of the domain.
pub use pod_domain as domain;
