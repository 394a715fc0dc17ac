//! A small, strict RFC 3339 (ISO 8601) date-time parser and formatter for
//! [`Timestamp`]: pure arithmetic on the proleptic Gregorian calendar.
//!
//! Alexa sends `request.timestamp` as `2026-11-24T21:30:00Z`, sometimes with
//! fractional seconds; pod writes times as `2026-11-24T21:30:00.000Z`. This
//! module handles exactly that family of strings without a date crate:
//!
//! `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`
//!
//! The `T` and `Z` may be lower case. Fractions of any length up to nine
//! digits are accepted and truncated to milliseconds. Leap seconds (`:60`)
//! are rejected. Years are four digits (0000 to 9999).

use crate::Timestamp;

const MILLIS_PER_DAY: i64 = 86_400_000;
const MAX_FRACTION_DIGITS: usize = 9;

impl Timestamp {
    /// Parses an RFC 3339 date-time with a UTC designator or numeric offset
    /// (`2026-11-24T21:30:00Z`, `2026-11-24T22:30:00.5+01:00`).
    ///
    /// Returns `None` for anything outside the accepted grammar (see the
    /// module documentation) or with an impossible date such as February 30th.
    pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
        parse(text)
    }

    /// Formats as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds). Times
    /// outside the years 0000 to 9999 are clamped to that range, so the
    /// output always parses with [`Timestamp::parse_rfc3339`].
    pub fn to_rfc3339(self) -> String {
        format(self)
    }

    /// The calendar year (UTC).
    pub fn year(self) -> i64 {
        civil_from_days(self.unix_millis().div_euclid(MILLIS_PER_DAY)).0
    }
}

fn parse(text: &str) -> Option<Timestamp> {
    let bytes = text.as_bytes();
    // The shortest accepted form is `YYYY-MM-DDTHH:MM:SSZ` (20 bytes).
    if bytes.len() < 20 || bytes.len() > 40 {
        return None;
    }
    let year = digits(bytes, 0, 4)?;
    expect(bytes, 4, b'-')?;
    let month = digits(bytes, 5, 2)?;
    expect(bytes, 7, b'-')?;
    let day = digits(bytes, 8, 2)?;
    if !matches!(bytes.get(10), Some(b'T' | b't')) {
        return None;
    }
    let hour = digits(bytes, 11, 2)?;
    expect(bytes, 13, b':')?;
    let minute = digits(bytes, 14, 2)?;
    expect(bytes, 16, b':')?;
    let second = digits(bytes, 17, 2)?;

    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }

    let mut pos = 19;
    let mut millis: i64 = 0;
    if bytes.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        let count = pos - start;
        if count == 0 || count > MAX_FRACTION_DIGITS {
            return None;
        }
        // Keep the first three digits (milliseconds), padded with zeros.
        for i in 0..3 {
            let digit = bytes
                .get(start + i)
                .filter(|_| i < count)
                .map_or(0, |b| i64::from(b - b'0'));
            millis = millis * 10 + digit;
        }
    }

    let offset_minutes: i64 = match bytes.get(pos) {
        Some(b'Z' | b'z') if bytes.len() == pos + 1 => 0,
        Some(sign @ (b'+' | b'-')) if bytes.len() == pos + 6 => {
            let oh = digits(bytes, pos + 1, 2)?;
            expect(bytes, pos + 3, b':')?;
            let om = digits(bytes, pos + 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let total = oh * 60 + om;
            if *sign == b'-' { -total } else { total }
        }
        _ => return None,
    };

    let days = days_from_civil(year, month, day);
    let local = days * MILLIS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000 + millis;
    Some(Timestamp::from_unix_millis(local - offset_minutes * 60_000))
}

fn format(at: Timestamp) -> String {
    let min = days_from_civil(0, 1, 1) * MILLIS_PER_DAY;
    let max = days_from_civil(10_000, 1, 1) * MILLIS_PER_DAY - 1;
    let millis = at.unix_millis().clamp(min, max);
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let in_day = millis.rem_euclid(MILLIS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let seconds = in_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        seconds / 3600,
        (seconds / 60) % 60,
        seconds % 60,
        in_day % 1000
    )
}

fn digits(bytes: &[u8], start: usize, len: usize) -> Option<i64> {
    let slice = bytes.get(start..start + len)?;
    slice.iter().try_fold(0i64, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

fn expect(bytes: &[u8], at: usize, want: u8) -> Option<()> {
    (bytes.get(at) == Some(&want)).then_some(())
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
            Timestamp::from_unix_millis(1_795_555_800_123).to_rfc3339(),
            "2026-11-24T21:30:00.123Z"
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2026-11-24",
            "2026-11-24T21:30:00",
            "2026-11-24 21:30:00Z",
            "2026-13-24T21:30:00Z",
            "2026-02-29T21:30:00Z",
            "2026-11-24T24:00:00Z",
            "2026-11-24T21:60:00Z",
            "2026-11-24T21:30:60Z",
            "2026-11-24T21:30:00.Z",
            "2026-11-24T21:30:00.1234567890Z",
            "2026-11-24T21:30:00Zjunk",
            "2026-11-24T21:30:00+0100",
            "+2026-11-24T21:30:00Z",
            "2026-11-24T21:30:00\u{00e9}",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad:?}");
        }
        assert!(Timestamp::parse_rfc3339("2024-02-29T00:00:00Z").is_some());
    }

    #[test]
    fn formats_utc_with_millis() {
        for (millis, text) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_735_787_045_678, "2025-01-02T03:04:05.678Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
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
