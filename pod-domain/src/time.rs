use std::fmt;
use std::time::Duration;

/// A point in time: milliseconds since the Unix epoch, UTC.
///
/// The domain never reads a clock; callers pass `now` in. Milliseconds are
/// what the stores keep, so a round trip through storage is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp from milliseconds since the Unix epoch.
    pub const fn from_unix_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    /// A timestamp from whole seconds since the Unix epoch (saturating).
    pub const fn from_unix_seconds(seconds: i64) -> Self {
        Timestamp(seconds.saturating_mul(1000))
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (rounded towards negative infinity).
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This time plus `duration`, saturating at the end of the range.
    pub fn plus(self, duration: Duration) -> Self {
        Timestamp(self.0.saturating_add(duration_millis(duration)))
    }

    /// This time minus `duration`, saturating at the start of the range.
    pub fn minus(self, duration: Duration) -> Self {
        Timestamp(self.0.saturating_sub(duration_millis(duration)))
    }

    /// The time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        let millis = self.0.saturating_sub(earlier.0).max(0);
        Duration::from_millis(millis as u64)
    }
}

fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_overflowing() {
        let end = Timestamp::from_unix_millis(i64::MAX - 1);
        assert_eq!(end.plus(Duration::from_secs(10)).unix_millis(), i64::MAX);
        let start = Timestamp::from_unix_millis(i64::MIN + 1);
        assert_eq!(start.minus(Duration::from_secs(10)).unix_millis(), i64::MIN);
        assert_eq!(start.since(end), Duration::ZERO);
    }

    #[test]
    fn seconds_round_down() {
        assert_eq!(Timestamp::from_unix_millis(1999).unix_seconds(), 1);
        assert_eq!(Timestamp::from_unix_millis(-1).unix_seconds(), -1);
    }
}
