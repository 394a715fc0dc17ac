//! Name-free interaction: `CanFulfillIntentRequest` asks whether the skill
//! could understand and fulfil an intent with the slots Alexa detected,
//! before it is asked to act; the answer is a `canFulfillIntent` object
//! (Amazon's "Implement CanFulfillIntentRequest for Name-free
//! Interactions"). Answering must have no side effects.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::names::{CanFulfill, DialogState};
use super::request::{Intent, RequestCommon};

/// `CanFulfillIntentRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanFulfillIntentRequest {
    /// The fields every request has.
    pub common: RequestCommon,
    /// `dialogState`, if any.
    pub dialog_state: Option<DialogState>,
    /// `intent`: the intent and slots Alexa detected.
    pub intent: Option<Intent>,
}

/// `response.canFulfillIntent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanFulfillIntent {
    /// `canFulfill`: `YES`, `NO` or `MAYBE`.
    #[serde(rename = "canFulfill")]
    pub can_fulfill: CanFulfill,
    /// `slots`: one answer per slot Alexa sent, by slot name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slots: BTreeMap<String, CanFulfillSlot>,
}

/// The answer for one slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanFulfillSlot {
    /// `canUnderstand`: `YES`, `NO` or `MAYBE`.
    #[serde(rename = "canUnderstand")]
    pub can_understand: CanFulfill,
    /// `canFulfill`: `YES` or `NO`.
    #[serde(rename = "canFulfill")]
    pub can_fulfill: CanFulfill,
}
