//! The original sample's `secrets.ini`: the Auth0 (and Pusher) settings as
//! `KEY=value` lines.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};

/// Reads `KEY=value` lines in the original `secrets.ini` format: blank lines
/// and lines starting with `#` or `;` are skipped, `[sections]` ignored,
/// values may be quoted.
pub fn read_secrets_ini(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--secrets: cannot read {}", path.display()))?;
    parse_secrets_ini(&text).with_context(|| format!("--secrets: {}", path.display()))
}

/// Parses the text of a `secrets.ini`.
pub fn parse_secrets_ini(text: &str) -> anyhow::Result<HashMap<String, String>> {
    let mut values = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with(';')
            || line.starts_with('[')
        {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            bail!("line {} is not KEY=value", number + 1);
        };
        let value = value.trim();
        let unquoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        values.insert(key.trim().to_owned(), unquoted.to_owned());
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_sections_and_quotes() {
        let values = parse_secrets_ini(
            "# the original's file\n[auth0]\n; note\nAUTH0_DOMAIN = t.auth0.com\n\
             API_SIGNING_KEY=\"signing\"\nAPP_CLIENT_ID='cid'\n\n",
        )
        .unwrap();
        assert_eq!(values.len(), 3);
        assert_eq!(values["AUTH0_DOMAIN"], "t.auth0.com");
        assert_eq!(values["API_SIGNING_KEY"], "signing");
        assert_eq!(values["APP_CLIENT_ID"], "cid");
        let error = parse_secrets_ini("A=1\nno equals sign").unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
    }
}
