//! The SQLite backend: one writer thread with group commit, readers inline
//! on the calling task (see [`engine`]), the schema in `migrations/*.sql`
//! (see [`migrate`]), and `sqlite:` URLs.

mod accounts;
mod answers;
pub(crate) mod engine;
mod error;
#[cfg(test)]
mod faults;
mod links;
pub(crate) mod migrate;
mod oauth;
mod orders;
mod sessions;
mod users;

use std::path::PathBuf;

use pod_ports::StoreError;

pub(crate) use self::engine::{Engine, Target};

/// What a `sqlite:` URL names. Errors never repeat the URL.
pub(crate) fn target_of(url: &str) -> Result<Target, StoreError> {
    let malformed = || StoreError::Unavailable("malformed sqlite: URL".to_owned());
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Err(StoreError::Unavailable(
            "unsupported database URL: only sqlite: and postgres: URLs are supported".to_owned(),
        ));
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let mut create = true;
    let mut memory = path == ":memory:";
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        match pair.split_once('=') {
            Some(("mode", "rwc")) => create = true,
            Some(("mode", "rw")) => create = false,
            Some(("mode", "memory")) => memory = true,
            Some(("cache", "shared" | "private")) => {}
            None if pair.is_empty() => {}
            _ => {
                return Err(StoreError::Unavailable(
                    "unsupported parameter in sqlite: URL (known: mode=rwc|rw|memory, cache)"
                        .to_owned(),
                ));
            }
        }
    }
    if memory {
        return Ok(Target::Memory);
    }
    let path = percent_decode(path).ok_or_else(malformed)?;
    if path.is_empty() {
        return Err(malformed());
    }
    Ok(Target::File {
        path: PathBuf::from(path),
        create,
    })
}

/// `%XX` escapes decoded; `None` for a broken escape or bytes that are not
/// UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn settings(engine: &Engine, on_writer: bool) -> (String, [i64; 4]) {
        let query = |conn: &rusqlite::Connection| -> Result<(String, [i64; 4]), StoreError> {
            let get = |pragma: &str| -> i64 {
                conn.query_row(&format!("PRAGMA {pragma}"), [], |row| row.get(0))
                    .unwrap()
            };
            let mode: String = conn
                .query_row("PRAGMA journal_mode", [], |row| row.get(0))
                .unwrap();
            Ok((
                mode,
                [
                    get("synchronous"),
                    get("foreign_keys"),
                    get("busy_timeout"),
                    get("query_only"),
                ],
            ))
        };
        if on_writer {
            engine.on_writer(query).await.unwrap()
        } else {
            engine.read(query).unwrap()
        }
    }

    #[tokio::test]
    async fn connections_get_the_documented_settings() {
        let dir = tempfile::TempDir::new().unwrap();
        let engine = Engine::open(Target::File {
            path: dir.path().join("pod.db"),
            create: true,
        })
        .await
        .unwrap();
        // FULL is 2; busy_timeout is in milliseconds; readers are query-only.
        assert_eq!(
            settings(&engine, true).await,
            ("wal".to_owned(), [2, 1, 5000, 0])
        );
        for _ in 0..engine.reader_count() {
            assert_eq!(
                settings(&engine, false).await,
                ("wal".to_owned(), [2, 1, 5000, 1])
            );
        }
        let version: i64 = engine
            .read(|c| {
                Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))
                    .unwrap())
            })
            .unwrap();
        assert_eq!(version, migrate::LATEST);
    }

    #[test]
    fn urls_name_files_or_memory() {
        let file = |path: &str, create: bool| Target::File {
            path: PathBuf::from(path),
            create,
        };
        let cases = [
            ("sqlite:pod.db", Some(file("pod.db", true))),
            ("sqlite://pod.db", Some(file("pod.db", true))),
            (
                "sqlite:///var/lib/pod/pod.db",
                Some(file("/var/lib/pod/pod.db", true)),
            ),
            (
                "sqlite:/a%20b/pod.db?mode=rw",
                Some(file("/a b/pod.db", false)),
            ),
            (
                "sqlite:pod.db?mode=rwc&cache=shared",
                Some(file("pod.db", true)),
            ),
            ("sqlite::memory:", Some(Target::Memory)),
            ("sqlite://:memory:", Some(Target::Memory)),
            ("sqlite:x?mode=memory", Some(Target::Memory)),
            ("sqlite:", None),
            ("sqlite:pod.db?mode=ro", None),
            ("sqlite:pod.db?password=x", None),
            ("sqlite:%zz", None),
            ("sqlite:%ff", None),
            ("SQLITE:pod.db", None),
            ("file:pod.db", None),
        ];
        for (url, expected) in cases {
            let got = target_of(url).ok();
            assert_eq!(format!("{got:?}"), format!("{expected:?}"), "{url}");
        }
    }
}
