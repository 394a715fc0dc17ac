//! The integration tests of pod-alexa, one binary: the typed envelopes
//! against real request samples (`envelope`), and request verification
//! (`verify`) against rcgen-built chains, the development CA and Amazon's
//! real chains at pinned times (`fixtures/`).

mod envelope;
mod events;
mod verify;
