//! RFC 3339 (ISO 8601) parsing and formatting of [`Timestamp`], done by the
//! `time` crate (pure calendar arithmetic: no clock, no environment).
//!
//! Alexa sends `request.timestamp` as `2026-11-24T21:30:00Z`, sometimes with
//! fractional seconds; pod writes times as `2026-11-24T21:30:00.000Z`.
//! Accepted: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, years 0000 to 9999,
//! `T` and `Z` in either case, fractions of any length (truncated to
//! milliseconds). A leap second (`23:59:60` at the end of a UTC month) reads
//! as `23:59:59.999`.

use ::time::format_description::BorrowedFormatItem;
use ::time::format_description::well_known::Rfc3339;
use ::time::macros::{datetime, format_description};
use ::time::{OffsetDateTime, PrimitiveDateTime};

use crate::Timestamp;

const NANOS_PER_MILLI: i128 = 1_000_000;
const FIRST: PrimitiveDateTime = datetime!(0000-01-01 00:00:00.000);
const LAST: PrimitiveDateTime = datetime!(9999-12-31 23:59:59.999);
const FORMAT: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

impl Timestamp {
    /// Parses an RFC 3339 date-time with a UTC designator or numeric offset
    /// (`2026-11-24T21:30:00Z`, `2026-11-24T22:30:00.5+01:00`).
    ///
    /// Returns `None` for anything outside the accepted grammar (see the
    /// module documentation) or with an impossible date such as February 30th.
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        // RFC 3339 lets applications separate date and time with a space and
        // `time` takes any byte there; pod keeps to `T`.
        if !matches!(text.as_bytes().get(10), Some(b'T' | b't')) {
            return None;
        }
        let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        let millis = at.unix_timestamp_nanos().div_euclid(NANOS_PER_MILLI);
        i64::try_from(millis).ok().map(Timestamp::from_unix_millis)
    }

    /// Formats as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds). Times
    /// outside the years 0000 to 9999 are clamped to that range, so the
    /// output always parses with [`Timestamp::parse_rfc3339`].
    pub fn to_rfc3339(self) -> String {
        utc(self)
            .format(FORMAT)
            .expect("a date-time in the years 0000 to 9999 formats")
    }

    /// The calendar year (UTC), clamped to 0000 to 9999 like
    /// [`Timestamp::to_rfc3339`].
    pub fn year(self) -> i64 {
        i64::from(utc(self).year())
    }
}

/// The date-time of `at` in UTC, clamped to the years 0000 to 9999.
fn utc(at: Timestamp) -> OffsetDateTime {
    let first = FIRST.assume_utc().unix_timestamp_nanos() / NANOS_PER_MILLI;
    let last = LAST.assume_utc().unix_timestamp_nanos() / NANOS_PER_MILLI;
    let millis = i128::from(at.unix_millis()).clamp(first, last);
    OffsetDateTime::from_unix_timestamp_nanos(millis * NANOS_PER_MILLI)
        .expect("the years 0000 to 9999 are in range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(
            Timestamp::parse_rfc3339("1970-01-01T00:00:00Z"),
            Some(Timestamp::EPOCH)
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-24T21:30:00Z"),
            Some(Timestamp::from_unix_seconds(1_795_555_800))
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-24T21:30:00.123456Z"),
            Some(Timestamp::from_unix_millis(1_795_555_800_123))
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-24T22:30:00+01:00"),
            Some(Timestamp::from_unix_seconds(1_795_555_800))
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-24t21:30:00.5z"),
            Some(Timestamp::from_unix_millis(1_795_555_800_500))
        );
        assert_eq!(
            Timestamp::from_unix_millis(1_795_555_800_123).to_rfc3339(),
            "2026-11-24T21:30:00.123Z"
        );
    }

    #[test]
    fn reads_alexa_timestamps() {
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-24T21:45:42Z"),
            Some(Timestamp::from_unix_seconds(1_795_556_742))
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-24T21:45:42.010Z"),
            Some(Timestamp::from_unix_millis(1_795_556_742_010))
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2026-11-24",
            "2026-11-24T21:30:00",
            "2026-11-24 21:30:00Z",
            "2026-11-24X21:30:00Z",
            "2026-13-24T21:30:00Z",
            "2026-02-29T21:30:00Z",
            "2026-11-24T24:00:00Z",
            "2026-11-24T21:60:00Z",
            "2026-11-24T21:30:60Z",
            "2026-11-24T21:30:00.Z",
            "2026-11-24T21:30:00Zjunk",
            "2026-11-24T21:30:00+0100",
            "2026-11-24T21:30:00+24:00",
            "+2026-11-24T21:30:00Z",
            "2026-11-24T21:30:00\u{00e9}",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad:?}");
        }
        assert!(Timestamp::parse_rfc3339("2024-02-29T00:00:00Z").is_some());
    }

    #[test]
    fn long_fractions_and_leap_seconds_are_truncated() {
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-24T21:30:00.1239567890Z"),
            Some(Timestamp::from_unix_millis(1_795_555_800_123))
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2016-12-31T23:59:60Z"),
            Timestamp::parse_rfc3339("2016-12-31T23:59:59.999Z")
        );
    }

    #[test]
    fn formats_utc_with_millis() {
        for (millis, text) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_735_787_045_678, "2025-01-02T03:04:05.678Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (i64::MIN, "0000-01-01T00:00:00.000Z"),
            (i64::MAX, "9999-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(Timestamp::from_unix_millis(millis).to_rfc3339(), text);
        }
        assert_eq!(Timestamp::from_unix_millis(1_735_787_045_678).year(), 2025);
    }

    proptest::proptest! {
        #[test]
        fn formatting_then_parsing_gives_the_same_time(millis in -62_167_219_200_000i64..253_402_300_799_999) {
            let at = Timestamp::from_unix_millis(millis);
            proptest::prop_assert_eq!(Timestamp::parse_rfc3339(&at.to_rfc3339()), Some(at));
        }

        #[test]
        fn parsing_never_panics(text in ".{0,48}") {
            let _ = Timestamp::parse_rfc3339(&text);
        }
    }
}
