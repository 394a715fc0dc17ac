//! The ports of pod, and the [`OrderingService`] that drives the domain
//! through them.
//!
//! A port is a small object-safe async trait (`Send + Sync`, held as
//! `Arc<dyn Port>`) named for what the service needs from the outside world:
//! who a token belongs to ([`AccessTokens`]), how to reach a customer
//! ([`CustomerDirectory`]), sending and checking one-time codes
//! ([`OneTimeCodes`]), keeping accounts and orders ([`AccountStore`]), telling watchers
//! ([`OrderEvents`]), the time and ids ([`Clock`], [`OrderIds`]), the web
//! app's sessions ([`SessionStore`]), its OpenID Connect login
//! ([`WebLogin`]), which customer an Alexa user is linked to
//! ([`AlexaLinks`]), the requests answered already ([`AnsweredRequests`],
//! so a replayed request changes nothing) and Alexa's progressive responses
//! ([`ProgressiveSpeech`]). Adapters in other crates implement them; `pod-server`
//! wires them together. The [`SignInService`] signs people in to the web app
//! with the same code limits as voice ordering. [`oauth`] is pod as the
//! OAuth 2.0 server Alexa links accounts against: its ports
//! ([`OAuthStore`], [`GrantTokens`], [`Secrets`]) and the
//! [`OAuthService`].
//!
//! With the `mock` feature every port has a `mockall` mock (`MockOrderStore`,
//! ...) for service tests in other crates. [`testing`] has an in-memory
//! [`AccountStore`] and small test doubles (a manual clock, sequential ids);
//! with the `testing` feature it also has the store contract suite every
//! store adapter runs.

#![deny(clippy::disallowed_methods)]

mod answers;
mod codes;
mod identity;
mod links;
pub mod oauth;
mod progressive;
mod service;
mod sessions;
mod sign_in;
mod store;
mod system;
pub mod testing;

pub use answers::{AnsweredRequests, Claim};
pub use codes::{
    CodeError, CodeGenerator, CodePurpose, InvalidCode, NewCode, OneTimeCode, OneTimeCodes,
};
pub use identity::{AccessTokens, CustomerDirectory, DirectoryError, TokenError};
pub use links::{AlexaLinks, AlexaUserId};
pub use oauth::{GrantTokens, OAuthService, OAuthStore, Secrets};
pub use progressive::{ProgressiveSpeech, SpeechError, SpeechTarget};
pub use service::{
    CancelOutcome, ConfirmOutcome, Disabled, LinkOutcome, OrderingService, PlaceOutcome, Ports,
    ServiceError, SkillEvents,
};
pub use sessions::{Session, SessionId, SessionStore};
pub use sign_in::{
    CodeOutcome, LoginError, LoginRedirect, Passwordless, SignInService, StartOutcome, WebLogin,
};
pub use store::{AccountStore, LocalUser, StoreError, UserStore};
pub use system::{Clock, OrderEvents, OrderIds, StoreTelemetry, SystemClock};

#[cfg(any(test, feature = "mock"))]
pub use answers::MockAnsweredRequests;
#[cfg(any(test, feature = "mock"))]
pub use codes::{MockCodeGenerator, MockOneTimeCodes};
#[cfg(any(test, feature = "mock"))]
pub use identity::{MockAccessTokens, MockCustomerDirectory};
#[cfg(any(test, feature = "mock"))]
pub use links::MockAlexaLinks;
#[cfg(any(test, feature = "mock"))]
pub use progressive::MockProgressiveSpeech;
#[cfg(any(test, feature = "mock"))]
pub use sessions::MockSessionStore;
#[cfg(any(test, feature = "mock"))]
pub use sign_in::MockWebLogin;
#[cfg(any(test, feature = "mock"))]
pub use store::{MockAccountStore, MockUserStore};
#[cfg(any(test, feature = "mock"))]
pub use system::{MockClock, MockOrderEvents, MockOrderIds};

/// Re-exported so adapters and embedders name one version of the domain.
pub use pod_domain as domain;
