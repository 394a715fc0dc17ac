//! The original sample's `secrets.ini`, as `pod serve --secrets` reads it.

use std::collections::BTreeMap;

use pod_server::settings::parse_secrets_ini;

/// Input: the text of a `secrets.ini` (invalid UTF-8 is replaced, as no
/// such file can be read as text).
///
/// Invariants: no panic; an error names a line of the file; what parses,
/// written back as `KEY="value"` lines, parses back to the same values.
pub fn secrets_ini(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match parse_secrets_ini(&text) {
        Ok(values) => {
            let sorted: BTreeMap<&String, &String> = values.iter().collect();
            let written: String = sorted
                .iter()
                .map(|(key, value)| format!("{key}=\"{value}\"\n"))
                .collect();
            let again = parse_secrets_ini(&written)
                .unwrap_or_else(|e| panic!("{written:?} written back does not parse: {e:#}"));
            assert_eq!(
                again, values,
                "{values:?} written back as {written:?} parses differently"
            );
        }
        Err(error) => {
            let message = error.to_string();
            let number: usize = message
                .strip_prefix("line ")
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("the error names no line: {message}"));
            assert!(
                (1..=text.lines().count()).contains(&number),
                "{message}: the file has {} lines",
                text.lines().count()
            );
        }
    }
}
