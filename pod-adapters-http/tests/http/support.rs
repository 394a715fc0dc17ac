//! What the handler tests of this crate share: the code every test draws,
//! and a clock the test moves that starts at the real time (so that
//! development certificates made now are valid) and then stands still.

use std::sync::Arc;

use pod_adapters_local::SystemClock;
use pod_ports::Clock;
use pod_ports::testing::{FixedCodes, ManualClock};

/// The code every test draws.
pub(crate) const CODE: &str = "4321";
/// A code that is not [`CODE`].
pub(crate) const WRONG: &str = "1234";

/// A manual clock showing the real time now.
pub(crate) fn test_clock() -> Arc<ManualClock> {
    ManualClock::starting_at(SystemClock.now())
}

/// A generator that always draws [`CODE`].
pub(crate) fn fixed_code() -> Arc<FixedCodes> {
    Arc::new(FixedCodes(CODE))
}
