//! The real clock, order ids and the code generator of the embedded mode.

use pod_domain::OrderId;
use pod_ports::{CodeGenerator, OneTimeCode, OrderIds};
use rand::TryRngCore;
use rand::rngs::OsRng;

pub use pod_ports::SystemClock;

/// [`OrderIds`] handing out random (version 4) UUIDs, hyphenated.
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidOrderIds;

impl OrderIds for UuidOrderIds {
    fn new_order_id(&self) -> OrderId {
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        // A hyphenated UUID is 36 ASCII hex digits and dashes, which
        // `OrderId::parse` always accepts.
        OrderId::parse(id).expect("a hyphenated UUID is a valid order id")
    }
}

/// [`CodeGenerator`] drawing codes from the operating system's CSPRNG
/// (`getrandom`, through [`rand::rngs::OsRng`]).
///
/// Every code of the requested length is equally likely: a 32-bit draw is
/// rejected when it falls into the top partial block that `10^digits` does
/// not divide evenly, so there is no modulo bias. Digit counts outside 4 to 8
/// are clamped into that range, the range [`OneTimeCode`] accepts.
///
/// # Panics
///
/// Only if the operating system's random number generator fails, which
/// means the system cannot make secrets at all (the same policy as
/// `rand::rng()`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsCodeGenerator;

impl OsCodeGenerator {
    /// A uniformly random number below `bound` (which must be non-zero).
    fn below(bound: u32) -> u32 {
        // The largest multiple of `bound` that fits in u32 arithmetic;
        // draws at or above it would favour small residues.
        let zone = u32::MAX - (u32::MAX % bound + 1) % bound;
        let mut rng = OsRng;
        loop {
            let draw = rng
                .try_next_u32()
                .expect("the operating system's random number generator failed");
            if draw <= zone {
                return draw % bound;
            }
        }
    }
}

impl CodeGenerator for OsCodeGenerator {
    fn generate(&self, digits: u32) -> OneTimeCode {
        let digits = digits.clamp(4, 8);
        let bound = 10u32.pow(digits);
        let value = Self::below(bound);
        let text = format!("{value:0width$}", width = digits as usize);
        OneTimeCode::parse(&text).expect("4 to 8 zero-padded digits are a valid code")
    }
}
