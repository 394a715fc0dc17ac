//! Alexa's side of pod, with no web framework in it: the typed request and
//! response envelopes of a custom skill ([`envelope`]) and the verifier that
//! checks a request really comes from Alexa ([`verify`]).
//!
//! A skill endpoint hands [`verify::RequestVerifier::verify`] the headers
//! and the raw body bytes; it gets back a [`verify::VerifiedRequest`] holding
//! the typed [`envelope::RequestEnvelope`], parsed once from the verified
//! bytes, and answers with an [`envelope::ResponseEnvelope`]. pod's
//! conversation simulator does the reverse with the same types: it builds
//! request envelopes, signs them with `verify::DevSigningKeys` (feature
//! `dev-ca`) and reads the response envelopes.
//!
//! [`directives`] sends progressive responses to Alexa's directive service
//! (pod-ports' `ProgressiveSpeech`), to allowed Amazon API hosts only.
//!
//! **API Boundary:** these modules. `pod-adapters-http` serves `/alexa` with
//! them; `pod-server`'s simulator and load driver talk to a skill with them.
//!
//! Features:
//! - `dev-ca` (off by default): `verify::DevSigningKeys`, a development CA
//!   and signing key generated with `rcgen`, for simulators and tests.

pub mod directives;
pub mod envelope;
pub mod verify;
