//! Rebuilds the crate when a migration changes: the migrations are embedded
//! with `include_str!` (see `src/sqlite/migrate.rs` and
//! `src/postgres/migrate.rs`), and cargo does not watch a whole folder by
//! itself (a new file there must be listed in the migrate module too).
//!
//! Also sets `cfg(pod_skip_postgres)` when `POD_SKIP_POSTGRES=1`: the test
//! binary then leaves out its PostgreSQL tests, which otherwise fail when
//! `POD_TEST_POSTGRES_URL` names no server (see `tests/sql.rs`).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=POD_SKIP_POSTGRES");
    println!("cargo:rustc-check-cfg=cfg(pod_skip_postgres)");
    if std::env::var_os("POD_SKIP_POSTGRES").is_some_and(|v| v == "1") {
        println!("cargo:rustc-cfg=pod_skip_postgres");
    }
}
