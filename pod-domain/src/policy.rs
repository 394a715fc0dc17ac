use std::fmt;
use std::time::Duration;

/// The rules for one-time codes: how long a code lives, how many wrong
/// guesses an order and an account may take, and how often codes may be sent.
///
/// # What this bounds
///
/// A guesser who does not have the phone or mailbox wins with probability at
/// most `max_failed_attempts / 10^code_digits` per issued code (defaults:
/// 3 / 10 000 = 0.03 %), because the order is cancelled at the limit and a new
/// order means a new code. Across orders, voice ordering locks after
/// `lockout_after` consecutive failures, so an account can be guessed with
/// probability at most `lockout_after / 10^code_digits` (defaults: 10 / 10 000
/// = 0.1 %) until the holder signs in or an operator unlocks it. The send
/// rate (`max_codes_per_hour`) bounds how many codes, and so how much SMS cost,
/// one account can cause. NIST SP 800-63B §5.2.2 caps consecutive failures
/// per account at 100; this policy refuses a higher lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfirmationPolicy {
    code_lifetime: Duration,
    max_failed_attempts: u32,
    max_codes_per_hour: u32,
    max_sign_in_codes_per_hour: u32,
    code_digits: u32,
    lockout_after: u32,
    lockout_cooldown: Duration,
}

/// A policy value outside its allowed range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    setting: &'static str,
    allowed: &'static str,
}

impl PolicyError {
    /// The name of the setting that was out of range.
    pub fn setting(&self) -> &'static str {
        self.setting
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} must be {}", self.setting, self.allowed)
    }
}

impl std::error::Error for PolicyError {}

impl Default for ConfirmationPolicy {
    fn default() -> Self {
        ConfirmationPolicy {
            code_lifetime: Duration::from_secs(5 * 60),
            max_failed_attempts: 3,
            max_codes_per_hour: 5,
            max_sign_in_codes_per_hour: 5,
            code_digits: 4,
            lockout_after: 10,
            lockout_cooldown: Duration::from_secs(60 * 60),
        }
    }
}

fn check<T: PartialOrd>(
    value: T,
    range: std::ops::RangeInclusive<T>,
    setting: &'static str,
    allowed: &'static str,
) -> Result<T, PolicyError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(PolicyError { setting, allowed })
    }
}

impl ConfirmationPolicy {
    /// The window over which [`ConfirmationPolicy::max_codes_per_hour`] counts.
    pub const SEND_WINDOW: Duration = Duration::from_secs(60 * 60);

    /// How long a code is valid: 30 seconds to 1 hour (default 5 minutes).
    pub fn with_code_lifetime(mut self, lifetime: Duration) -> Result<Self, PolicyError> {
        self.code_lifetime = check(
            lifetime,
            Duration::from_secs(30)..=Duration::from_secs(3600),
            "code_lifetime",
            "between 30 seconds and 1 hour",
        )?;
        Ok(self)
    }

    /// Wrong codes an order takes before it is cancelled: 1 to 10 (default 3).
    pub fn with_max_failed_attempts(mut self, attempts: u32) -> Result<Self, PolicyError> {
        self.max_failed_attempts =
            check(attempts, 1..=10, "max_failed_attempts", "between 1 and 10")?;
        Ok(self)
    }

    /// Consecutive wrong codes after which an account stays locked until an
    /// operator unlocks it or the holder signs in with another factor,
    /// whatever the cool-down: NIST SP 800-63B §5.2.2's ceiling.
    pub const PERMANENT_LOCK_AFTER: u32 = 100;

    /// Order codes sent to one customer per rolling hour: 1 to 100 (default 5).
    pub fn with_max_codes_per_hour(mut self, codes: u32) -> Result<Self, PolicyError> {
        self.max_codes_per_hour = check(codes, 1..=100, "max_codes_per_hour", "between 1 and 100")?;
        Ok(self)
    }

    /// Sign-in codes sent to one customer per rolling hour: 1 to 100
    /// (default 5). A budget of its own, so that nobody can spend a person's
    /// order codes from the sign-in page.
    pub fn with_max_sign_in_codes_per_hour(mut self, codes: u32) -> Result<Self, PolicyError> {
        self.max_sign_in_codes_per_hour = check(
            codes,
            1..=100,
            "max_sign_in_codes_per_hour",
            "between 1 and 100",
        )?;
        Ok(self)
    }

    /// How long the account lock lasts before it lifts by itself: 1 minute
    /// to 30 days (default 1 hour). After it lifts, the run of failures is
    /// kept, so the next wrong code locks again at once; at
    /// [`ConfirmationPolicy::PERMANENT_LOCK_AFTER`] failures it no longer
    /// lifts by itself.
    pub fn with_lockout_cooldown(mut self, cooldown: Duration) -> Result<Self, PolicyError> {
        self.lockout_cooldown = check(
            cooldown,
            Duration::from_secs(60)..=Duration::from_secs(30 * 24 * 3600),
            "lockout_cooldown",
            "between 1 minute and 30 days",
        )?;
        Ok(self)
    }

    /// Digits in a code: 4 to 8 (default 4, what Alexa's
    /// `AMAZON.FOUR_DIGIT_NUMBER` slot hears).
    pub fn with_code_digits(mut self, digits: u32) -> Result<Self, PolicyError> {
        self.code_digits = check(digits, 4..=8, "code_digits", "between 4 and 8")?;
        Ok(self)
    }

    /// Consecutive wrong codes across orders before voice ordering locks for
    /// the customer: 1 to 100 (default 10; NIST SP 800-63B allows at most 100).
    pub fn with_lockout_after(mut self, failures: u32) -> Result<Self, PolicyError> {
        self.lockout_after = check(failures, 1..=100, "lockout_after", "between 1 and 100")?;
        Ok(self)
    }

    /// How long a code is valid.
    pub fn code_lifetime(&self) -> Duration {
        self.code_lifetime
    }

    /// Wrong codes an order takes before it is cancelled.
    pub fn max_failed_attempts(&self) -> u32 {
        self.max_failed_attempts
    }

    /// Codes sent to one customer per rolling hour.
    pub fn max_codes_per_hour(&self) -> u32 {
        self.max_codes_per_hour
    }

    /// Sign-in codes sent to one customer per rolling hour.
    pub fn max_sign_in_codes_per_hour(&self) -> u32 {
        self.max_sign_in_codes_per_hour
    }

    /// How long the account lock lasts before it lifts by itself.
    pub fn lockout_cooldown(&self) -> Duration {
        self.lockout_cooldown
    }

    /// Digits in a code.
    pub fn code_digits(&self) -> u32 {
        self.code_digits
    }

    /// Consecutive wrong codes before the account is locked for voice ordering.
    pub fn lockout_after(&self) -> u32 {
        self.lockout_after
    }

    /// The highest chance that a guesser confirms one order:
    /// `max_failed_attempts / 10^code_digits`.
    pub fn guess_chance_per_code(&self) -> f64 {
        f64::from(self.max_failed_attempts) / 10f64.powi(self.code_digits as i32)
    }

    /// The highest chance that a guesser confirms any order of one account
    /// before it is locked: `lockout_after / 10^code_digits`.
    pub fn guess_chance_per_account(&self) -> f64 {
        f64::from(self.lockout_after) / 10f64.powi(self.code_digits as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_bounds() {
        let policy = ConfirmationPolicy::default();
        assert_eq!(policy.code_lifetime(), Duration::from_secs(300));
        assert_eq!(
            (policy.max_failed_attempts(), policy.max_codes_per_hour()),
            (3, 5)
        );
        assert_eq!((policy.code_digits(), policy.lockout_after()), (4, 10));
        assert!((policy.guess_chance_per_code() - 0.0003).abs() < 1e-12);
        assert!((policy.guess_chance_per_account() - 0.001).abs() < 1e-12);
    }

    #[test]
    fn out_of_range_settings_are_refused_by_name() {
        let p = ConfirmationPolicy::default();
        assert_eq!(p.with_code_digits(3).unwrap_err().setting(), "code_digits");
        assert_eq!(p.with_code_digits(9).unwrap_err().setting(), "code_digits");
        assert_eq!(
            p.with_lockout_after(101).unwrap_err().setting(),
            "lockout_after"
        );
        assert_eq!(
            p.with_max_failed_attempts(0).unwrap_err().setting(),
            "max_failed_attempts"
        );
        assert_eq!(
            p.with_max_codes_per_hour(0).unwrap_err().setting(),
            "max_codes_per_hour"
        );
        assert_eq!(
            p.with_code_lifetime(Duration::from_secs(1))
                .unwrap_err()
                .setting(),
            "code_lifetime"
        );
        assert_eq!(p.with_code_digits(8).unwrap().code_digits(), 8);
    }
}
