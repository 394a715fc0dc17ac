//! Sets `cfg(pod_skip_postgres)` when `POD_SKIP_POSTGRES=1`: the black-box
//! test binary then leaves out its cluster tests (several servers on one
//! PostgreSQL database behind nginx), which otherwise fail when
//! `POD_TEST_POSTGRES_URL` names no server (see `tests/blackbox.rs`), as
//! pod-adapters-sql does with its PostgreSQL tests.

fn main() {
    println!("cargo:rerun-if-env-changed=POD_SKIP_POSTGRES");
    println!("cargo:rustc-check-cfg=cfg(pod_skip_postgres)");
    if std::env::var_os("POD_SKIP_POSTGRES").is_some_and(|v| v == "1") {
        println!("cargo:rustc-cfg=pod_skip_postgres");
    }
}
