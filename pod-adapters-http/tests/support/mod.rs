//! What the handler tests of this crate share: a clock the test moves and a
//! code generator that always draws the same code.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pod_domain::Timestamp;
use pod_ports::{Clock, CodeGenerator, OneTimeCode};

/// The code every test draws.
pub(crate) const CODE: &str = "4321";
/// A code that is not [`CODE`].
pub(crate) const WRONG: &str = "1234";

/// A clock the test moves by hand, starting at the real time (so that
/// development certificates made now are valid) and then standing still.
#[derive(Debug)]
pub(crate) struct TestClock(AtomicI64);

impl TestClock {
    pub(crate) fn new() -> Arc<Self> {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        Arc::new(TestClock(AtomicI64::new(i64::try_from(millis).unwrap())))
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.0
            .fetch_add(i64::try_from(by.as_millis()).unwrap(), Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.0.load(Ordering::SeqCst))
    }
}

/// Always draws [`CODE`].
#[derive(Debug)]
pub(crate) struct FixedCode;

impl CodeGenerator for FixedCode {
    fn generate(&self, _digits: u32) -> OneTimeCode {
        OneTimeCode::parse(CODE).unwrap()
    }
}
