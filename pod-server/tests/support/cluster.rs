//! A real cluster: several `pod serve` processes on one fresh PostgreSQL
//! database, behind nginx configured with `deploy/nginx/pod.conf`.
//!
//! The database is a new one on the server `POD_TEST_POSTGRES_URL` names (an
//! admin URL; `scripts/pg-cluster.sh` starts a throwaway server, and
//! `scripts/test.sh` does so for the whole suite), dropped at the end. The
//! servers share one data folder: the local token key and the development
//! Alexa CA are made once before they start, so every server accepts the
//! same access tokens and request signatures, and they all append codes to
//! the one outbox (each code is one line written with one `write`, so lines
//! from several servers never interleave). nginx runs as `nginx -p PREFIX
//! -c PREFIX/pod.conf -g 'daemon off;'` in a temporary prefix folder that
//! holds its pid file, logs and temporary files.
//!
//! Everything stops when the [`Cluster`] is dropped: nginx with SIGTERM (its
//! workers stop with it), the servers with SIGKILL, then the database is
//! dropped and the folders deleted.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

use super::{PATIENCE, Spawn, TestApp};

/// The configuration template under test.
const NGINX_TEMPLATE: &str = include_str!("../../../deploy/nginx/pod.conf");

const HOW_TO_RUN: &str = "\
The cluster tests need a PostgreSQL server: set POD_TEST_POSTGRES_URL to an admin URL on \
loopback (postgres://postgres@127.0.0.1:PORT/postgres). `bash scripts/test.sh` starts a \
throwaway cluster for the whole suite; for this binary alone run \
`eval \"$(bash scripts/pg-cluster.sh start)\"` first (and \
`bash scripts/pg-cluster.sh stop \"$POD_TEST_POSTGRES_DIR\"` after). \
To leave these tests out, build with POD_SKIP_POSTGRES=1.";

/// A database of its own on the test server, dropped (with its
/// connections) when this guard is.
#[derive(Debug)]
pub(crate) struct TestDb {
    admin: String,
    name: String,
    /// The database's URL, as the servers get it in `POD_DATABASE_URL`.
    pub(crate) url: String,
}

impl TestDb {
    /// Creates `pod_cluster_<random>`.
    pub(crate) async fn new() -> TestDb {
        let admin = match std::env::var("POD_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => panic!("POD_TEST_POSTGRES_URL is not set. {HOW_TO_RUN}"),
        };
        let name = format!("pod_cluster_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("cannot connect to POD_TEST_POSTGRES_URL ({e}). {HOW_TO_RUN}")
        });
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        conn.close().await.expect("close");
        let mut url = reqwest::Url::parse(&admin).expect("POD_TEST_POSTGRES_URL is a URL");
        url.set_path(&format!("/{name}"));
        TestDb {
            admin,
            name,
            url: url.to_string(),
        }
    }

    /// A connection of the test's own, to look at what the servers stored.
    pub(crate) async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // On a thread with a runtime of its own: Drop cannot await, and the
        // test's runtime may be shutting down. Best effort: the throwaway
        // cluster goes away whole anyway.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&admin).await.ok()?;
                sqlx::raw_sql(&drop).execute(&mut conn).await.ok()?;
                conn.close().await.ok()
            })
        })
        .join();
    }
}

/// How to start a cluster.
#[derive(Debug)]
pub(crate) struct ClusterSpawn {
    servers: usize,
    env: BTreeMap<String, String>,
}

/// Servers on one database behind nginx. Fields drop in order: nginx, the
/// servers, the database, the shared data folder.
#[derive(Debug)]
pub(crate) struct Cluster {
    /// The cluster as its clients see it: nginx's address (`base`, `url`),
    /// the shared data folder (`outbox`, `dev_keys`), and the servers'
    /// settings for `pod` commands (`token`, `pod_ok`). It runs no process
    /// of its own.
    pub(crate) front: TestApp,
    /// nginx.
    pub(crate) nginx: Nginx,
    /// The pod servers, each reachable directly too.
    pub(crate) servers: Vec<TestApp>,
    /// The one database.
    pub(crate) db: TestDb,
    _data: tempfile::TempDir,
}

impl Cluster {
    /// `servers` pod servers; add settings with [`ClusterSpawn::env`].
    pub(crate) fn with(servers: usize) -> ClusterSpawn {
        ClusterSpawn {
            servers,
            env: BTreeMap::new(),
        }
    }

    /// Adds the users `NAME` (`NAME@example.com`) with `pod users add`, all
    /// at once, and returns an access token for each (`pod token NAME`).
    pub(crate) async fn add_users(&self, names: &[String]) -> Vec<String> {
        let run_all = |commands: Vec<Vec<String>>| {
            let tasks: Vec<_> = commands
                .into_iter()
                .map(|args| {
                    let env = self.front.env.clone();
                    tokio::spawn(async move {
                        let done = super::run(&args, &env).await;
                        assert!(
                            done.status.success(),
                            "pod {args:?}: {}\n{}",
                            done.status,
                            done.stderr
                        );
                        done.stdout.trim().to_owned()
                    })
                })
                .collect();
            async move {
                let mut outputs = Vec::with_capacity(tasks.len());
                for task in tasks {
                    outputs.push(task.await.expect("join"));
                }
                outputs
            }
        };
        let args = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        run_all(
            names
                .iter()
                .map(|n| args(&["users", "add", n, "--email", &format!("{n}@example.com")]))
                .collect(),
        )
        .await;
        run_all(names.iter().map(|n| args(&["token", n])).collect()).await
    }
}

impl ClusterSpawn {
    /// Sets an environment variable of every server.
    pub(crate) fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.insert(key.to_owned(), value.into());
        self
    }

    /// Makes the database and the shared data folder, starts every server at
    /// once, waits until each is ready, then starts nginx in front of them.
    pub(crate) async fn start(self) -> Cluster {
        let nginx_binary = nginx_binary();
        let db = TestDb::new().await;
        let data = tempfile::tempdir().expect("temp dir");
        let data_dir = data.path().join("data");
        // The keys first, once, so that no two servers race to make them
        // (a real deployment copies the files to each server).
        pod_server::app::local_token_key(&data_dir).expect("token key");
        pod_server::app::dev_signing_keys(&data_dir).expect("development CA");

        let mut env = self.env.clone();
        env.insert("POD_DATABASE_URL".into(), db.url.clone());
        let servers = start_servers(self.servers, &env, &data_dir).await;

        let upstreams: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
        let nginx = Nginx::start(&nginx_binary, &upstreams).await;
        let mut front_env = env;
        front_env.insert("POD_DATA_DIR".into(), data_dir.display().to_string());
        let front = TestApp {
            _dir: tempfile::tempdir().expect("temp dir"),
            data_dir,
            addr: nginx.addr,
            base: format!("http://{}", nginx.addr),
            client: reqwest::Client::builder()
                .timeout(PATIENCE)
                .build()
                .expect("client"),
            env: front_env,
            child: None,
            stderr: Arc::new(Mutex::new(String::new())),
        };
        Cluster {
            front,
            nginx,
            servers,
            db,
            _data: data,
        }
    }
}

/// Starts `count` servers on `data_dir` at the same moment and waits until
/// every one answers `/readyz` with 200.
pub(crate) async fn start_servers(
    count: usize,
    env: &BTreeMap<String, String>,
    data_dir: &Path,
) -> Vec<TestApp> {
    let starting: Vec<_> = (0..count)
        .map(|_| {
            let spawn = env
                .iter()
                .fold(Spawn::serve().data_dir(data_dir), |spawn, (k, v)| {
                    spawn.env(k, v.clone())
                });
            tokio::spawn(spawn.start())
        })
        .collect();
    let mut servers = Vec::with_capacity(count);
    for task in starting {
        servers.push(task.await.expect("start a server"));
    }
    for server in &servers {
        wait_ready(server).await;
    }
    servers
}

/// Polls `/readyz` until it answers 200 (bounded by [`PATIENCE`]).
pub(crate) async fn wait_ready(server: &TestApp) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = server
            .client
            .get(server.url("/readyz"))
            .send()
            .await
            .map(|r| r.status().as_u16());
        if let Ok(200) = status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} not ready ({status:?}); stderr:\n{}",
            server.base,
            server.stderr_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `/usr/sbin/nginx` (Debian's), else `nginx` on the PATH.
fn nginx_binary() -> PathBuf {
    let debian = PathBuf::from("/usr/sbin/nginx");
    if debian.is_file() {
        return debian;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nginx"))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "nginx not found (/usr/sbin/nginx or on the PATH): \
             `bash scripts/install-test-deps.sh` installs it"
        )
    })
}

/// `deploy/nginx/pod.conf` filled in: `listen` on `listen`, one upstream
/// `server` line per pod server.
pub(crate) fn nginx_config(listen: SocketAddr, upstreams: &[SocketAddr]) -> String {
    let mut config = String::new();
    for line in NGINX_TEMPLATE.lines() {
        if line.contains("${POD_UPSTREAM}") {
            for upstream in upstreams {
                config.push_str(&line.replace("${POD_UPSTREAM}", &upstream.to_string()));
                config.push('\n');
            }
        } else {
            config.push_str(&line.replace("${POD_NGINX_LISTEN}", &listen.to_string()));
            config.push('\n');
        }
    }
    assert!(
        !config.contains("${POD_"),
        "a placeholder of deploy/nginx/pod.conf was left unfilled"
    );
    config
}

/// A running nginx in a temporary prefix folder, stopped on drop.
#[derive(Debug)]
pub(crate) struct Nginx {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    prefix: tempfile::TempDir,
    child: Option<Child>,
}

impl Nginx {
    async fn start(binary: &Path, upstreams: &[SocketAddr]) -> Nginx {
        let prefix = tempfile::tempdir().expect("temp dir");
        // Workers run as `nobody` when the tests run as root; they may need
        // the temporary-file folders inside the prefix.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(prefix.path(), std::fs::Permissions::from_mode(0o755))
                .expect("chmod the nginx prefix");
        }
        std::fs::create_dir_all(prefix.path().join("logs")).expect("logs folder");
        let conf = prefix.path().join("pod.conf");
        // A free port picked by the kernel; another process may take it
        // before nginx binds it, so a failed start is retried on a new one.
        let mut failures = String::new();
        for _ in 0..3 {
            let addr = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port");
            std::fs::write(&conf, nginx_config(addr, upstreams)).expect("write pod.conf");
            let stderr = std::fs::File::create(prefix.path().join("stderr.log")).expect("log");
            // In the test's process group, so that Ctrl-C stops it too.
            let mut child = Command::new(binary)
                .arg("-p")
                .arg(prefix.path())
                .arg("-c")
                .arg(&conf)
                .args(["-g", "daemon off;"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("start nginx");
            match wait_serving(&mut child, addr, prefix.path()).await {
                Ok(()) => {
                    return Nginx {
                        addr,
                        prefix,
                        child: Some(child),
                    };
                }
                Err(why) => {
                    failures.push_str(&why);
                    failures.push('\n');
                    stop(child);
                }
            }
        }
        panic!("nginx did not start:\n{failures}");
    }

    /// Its stderr and error log.
    pub(crate) fn logs(&self) -> String {
        logs(self.prefix.path())
    }

    /// The access log, one request a line (the `pod` format of pod.conf).
    pub(crate) fn access_log(&self) -> Vec<String> {
        std::fs::read_to_string(self.prefix.path().join("logs/access.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            stop(child);
        }
    }
}

/// Waits until nginx answers `/healthz` through to a pod server.
async fn wait_serving(child: &mut Child, addr: SocketAddr, prefix: &Path) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let url = format!("http://{addr}/healthz");
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(response) = client.get(&url).send().await
            && response.status() == 200
        {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("nginx exited ({status}): {}", logs(prefix)));
        }
        if Instant::now() >= deadline {
            return Err(format!("nginx did not answer: {}", logs(prefix)));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// nginx's stderr and error log in `prefix`.
fn logs(prefix: &Path) -> String {
    let read = |name: &str| std::fs::read_to_string(prefix.join(name)).unwrap_or_default();
    format!(
        "stderr:\n{}\nlogs/error.log:\n{}",
        read("stderr.log"),
        read("logs/error.log")
    )
}

/// SIGTERM (nginx's fast shutdown: the master stops its workers), and
/// after [`PATIENCE`] SIGKILL to the workers and the master.
fn stop(mut child: Child) {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let workers =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    for worker in workers.split_whitespace().chain([pid.as_str()]) {
        let _ = Command::new("kill").args(["-KILL", worker]).status();
    }
    let _ = child.wait();
}
