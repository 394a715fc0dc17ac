//! Rebuilds the crate when a migration changes: the migrations are embedded
//! with `include_str!` (see `src/migrate.rs`), and cargo does not watch a
//! whole folder by itself (a new file there must be listed in
//! `src/migrate.rs` too).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
