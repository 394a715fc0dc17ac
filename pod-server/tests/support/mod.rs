//! The black-box harness: starts the real `pod` binary on a free port with a
//! fresh data folder and talks to it over HTTP, as Alexa, a script or an
//! operator would (zero2prod's `spawn_app`, crates.io's `TestApp`).
//!
//! Logs are quiet (`RUST_LOG=warn`) unless `POD_TEST_LOG` is set, in which
//! case its value is the child's `RUST_LOG` and its stderr is echoed.
//!
//! `cluster` starts several servers on one PostgreSQL database behind nginx.

#[cfg(not(pod_skip_postgres))]
pub(crate) mod cluster;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pod_adapters_local::{Outbox, OutboxEntry};
use pod_server::app::dev_signing_keys;
use pod_server::simulate::Simulator;
use serde_json::Value;

/// The `pod` binary under test.
pub(crate) const POD: &str = env!("CARGO_BIN_EXE_pod");

/// How long a server may take to start or stop, or a command to finish.
/// Generous: the machine may be busy compiling; nothing waits this long on
/// the happy path.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);

/// The skill id the servers of these tests accept when one is configured.
pub(crate) const SKILL_ID: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";

/// How to start one `pod` process.
#[derive(Debug, Default)]
pub(crate) struct Spawn {
    args: Vec<String>,
    env: BTreeMap<String, String>,
    log: Option<String>,
    /// A data folder shared with other servers, instead of a fresh one.
    data_dir: Option<PathBuf>,
}

/// A running `pod serve`, killed (and its data folder deleted) on drop.
#[derive(Debug)]
pub(crate) struct TestApp {
    /// The temporary folder (the data folder is `data` inside it), deleted on drop.
    _dir: tempfile::TempDir,
    /// `POD_DATA_DIR` of the server.
    pub(crate) data_dir: PathBuf,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// `http://ADDR` or `https://ADDR`.
    pub(crate) base: String,
    /// A plain HTTP client.
    pub(crate) client: reqwest::Client,
    env: BTreeMap<String, String>,
    child: Option<Child>,
    stderr: Arc<Mutex<String>>,
}

/// A `pod` command that ran to its end.
#[derive(Debug)]
pub(crate) struct Finished {
    /// Its exit status.
    pub(crate) status: ExitStatus,
    /// Its standard output.
    pub(crate) stdout: String,
    /// Its standard error.
    pub(crate) stderr: String,
}

impl Spawn {
    /// `pod serve --listen 127.0.0.1:0` with a fresh data folder.
    pub(crate) fn serve() -> Self {
        Spawn {
            args: vec!["serve".into(), "--listen".into(), "127.0.0.1:0".into()],
            ..Spawn::default()
        }
    }

    /// Adds command-line arguments.
    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable of the child.
    pub(crate) fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.insert(key.to_owned(), value.into());
        self
    }

    /// Sets the child's `RUST_LOG` (default `warn`).
    pub(crate) fn log(mut self, filter: &str) -> Self {
        self.log = Some(filter.to_owned());
        self
    }

    /// Uses `dir` as the data folder (several servers may share one) instead
    /// of a fresh one in the server's temporary folder.
    #[cfg_attr(pod_skip_postgres, allow(dead_code))]
    pub(crate) fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_owned());
        self
    }

    /// Starts the server in a fresh temporary folder and waits (bounded) for
    /// its `pod listening on ...` line.
    pub(crate) async fn start(self) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        self.start_in(dir).await
    }

    /// Like [`Spawn::start`], in a prepared folder (for files such as a
    /// `secrets.ini` or a TLS key that must exist before the start).
    pub(crate) async fn start_in(self, dir: tempfile::TempDir) -> TestApp {
        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| dir.path().join("data"));
        let mut env = self.env.clone();
        env.insert("POD_DATA_DIR".into(), data_dir.display().to_string());
        let echo = std::env::var("POD_TEST_LOG").ok();
        let log = echo
            .clone()
            .or(self.log.clone())
            .unwrap_or_else(|| "warn".into());
        let mut child = command(&self.args, &env, &log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pod");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let pipe = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if echo.is_some() {
                    eprintln!("[pod] {line}");
                }
                if let Some(url) = line.strip_prefix("pod listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let url = tokio::task::spawn_blocking(move || rx.recv_timeout(PATIENCE))
            .await
            .expect("join");
        let mut app = TestApp {
            _dir: dir,
            data_dir,
            addr: "127.0.0.1:0".parse().unwrap(),
            base: String::new(),
            client: reqwest::Client::builder()
                .timeout(PATIENCE)
                .build()
                .expect("client"),
            env,
            child: Some(child),
            stderr,
        };
        let Ok(url) = url else {
            panic!(
                "pod did not report its address; stderr:\n{}",
                app.stderr_text()
            );
        };
        let addr = url
            .rsplit("://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unparseable listening line: {url}"));
        app.addr = addr;
        app.base = url;
        app
    }

    /// Runs the command to its end (bounded) in a fresh folder: for start-up
    /// failures.
    pub(crate) async fn run_to_exit(self) -> Finished {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut env = self.env.clone();
        env.insert(
            "POD_DATA_DIR".into(),
            dir.path().join("data").display().to_string(),
        );
        run(&self.args, &env).await
    }
}

fn command(args: &[String], env: &BTreeMap<String, String>, log: &str) -> std::process::Command {
    let mut command = std::process::Command::new(POD);
    // Nothing from the developer's environment (an AUTH0_DOMAIN, a
    // POD_LISTEN) leaks into the server under test.
    command
        .env_clear()
        .envs(env)
        .env("RUST_LOG", log)
        .args(args);
    command
}

pub(crate) async fn run(args: &[String], env: &BTreeMap<String, String>) -> Finished {
    let mut command = tokio::process::Command::from(command(args, env, "warn"));
    command.stdin(Stdio::null()).kill_on_drop(true);
    finish(args, command.output()).await
}

/// What `pod ARGS` did, once `output` (its run to the end) is done; fails
/// the test when that takes longer than [`PATIENCE`].
pub(crate) async fn finish(
    args: &[impl std::fmt::Debug],
    output: impl Future<Output = std::io::Result<std::process::Output>>,
) -> Finished {
    let output = tokio::time::timeout(PATIENCE, output)
        .await
        .unwrap_or_else(|_| panic!("pod {args:?} did not finish"))
        .expect("run pod");
    Finished {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl TestApp {
    /// `pod serve` in the embedded default.
    pub(crate) async fn spawn() -> TestApp {
        Spawn::serve().start().await
    }

    /// Everything the server wrote to stderr so far.
    pub(crate) fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Runs another `pod` command against this server's data folder.
    pub(crate) async fn pod(&self, args: &[&str]) -> Finished {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        run(&args, &self.env).await
    }

    /// Like [`TestApp::pod`], and the command must succeed.
    pub(crate) async fn pod_ok(&self, args: &[&str]) -> String {
        let done = self.pod(args).await;
        assert!(
            done.status.success(),
            "pod {args:?} failed: {}\n{}",
            done.status,
            done.stderr
        );
        done.stdout
    }

    /// `pod token NAME`: what account linking would give Alexa.
    pub(crate) async fn token(&self, name: &str) -> String {
        self.pod_ok(&["token", name]).await.trim().to_owned()
    }

    /// A simulated Alexa device signing with the server's dev CA.
    pub(crate) fn alexa(&self, token: Option<&str>) -> Simulator {
        self.alexa_for_skill(token, None)
    }

    /// A simulated Alexa device sending `skill_id` (default the simulator's own).
    pub(crate) fn alexa_for_skill(&self, token: Option<&str>, skill_id: Option<&str>) -> Simulator {
        Simulator::new(
            self.url("/alexa"),
            self.dev_keys(),
            token.map(str::to_owned),
            skill_id.map(str::to_owned),
        )
        .expect("simulator")
    }

    /// The development signing keys the server created in its data folder.
    pub(crate) fn dev_keys(&self) -> pod_alexa::verify::DevSigningKeys {
        dev_signing_keys(&self.data_dir).expect("dev keys")
    }

    /// `base` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every code the outbox holds, oldest first.
    pub(crate) fn outbox(&self) -> Vec<OutboxEntry> {
        Outbox::read(&self.data_dir.join(Outbox::FILE_NAME), None, None).expect("outbox")
    }

    /// The last code in the outbox.
    pub(crate) fn last_code(&self) -> OutboxEntry {
        self.outbox().pop().expect("a code in the outbox")
    }

    /// An `/api` request with a bearer token; the status and the JSON body
    /// (or the text as a JSON string).
    pub(crate) async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("api request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("api body");
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    /// The text of `GET /metrics`.
    pub(crate) async fn metrics(&self) -> String {
        let response = self.client.get(self.url("/metrics")).send().await;
        response
            .expect("metrics")
            .text()
            .await
            .expect("metrics body")
    }

    /// `GET /api/orders` for the holder of `token`, which must succeed.
    pub(crate) async fn orders(&self, token: &str) -> Value {
        let (status, body) = self
            .api(reqwest::Method::GET, "/api/orders", Some(token), None)
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Posts raw bytes to `/alexa` with exactly these headers.
    pub(crate) async fn post_alexa(
        &self,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(self.url("/alexa"))
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.body(body).send().await.expect("alexa request");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, json)
    }

    /// Kills the server with SIGKILL (no shutdown of any kind) and reaps it.
    #[cfg_attr(pod_skip_postgres, allow(dead_code))]
    pub(crate) fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reap the killed server");
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub(crate) async fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let pid = child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let waited = tokio::time::timeout(
            PATIENCE,
            tokio::task::spawn_blocking(move || {
                let status = child.wait();
                (status, child)
            }),
        )
        .await;
        match waited {
            Ok(joined) => joined.expect("join").0.expect("wait"),
            Err(_) => {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid])
                    .status();
                panic!(
                    "pod did not stop after SIGTERM; stderr:\n{}",
                    self.stderr_text()
                );
            }
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A code that is certainly not `code`: every digit moved by one.
pub(crate) fn wrong_code(code: &str) -> String {
    code.chars()
        .map(|c| {
            let d = c.to_digit(10).expect("digit");
            char::from_digit((d + 1) % 10, 10).unwrap()
        })
        .collect()
}

/// "1234" as a person says it: "one two three four".
pub(crate) fn spoken(code: &str) -> String {
    const WORDS: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    code.chars()
        .map(|c| WORDS[c.to_digit(10).expect("digit") as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes `contents` to `name` in `dir`; returns the path.
pub(crate) fn write_file(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write test file");
    path
}

/// The value of the cookie `name` a response sets.
pub(crate) fn cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(name)?.strip_prefix('='))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
}

/// The value of the `pod_session` cookie a response sets.
pub(crate) fn session_cookie(response: &reqwest::Response) -> Option<String> {
    cookie(response, "pod_session")
}

/// The value of the `pod_csrf` cookie (the sign-in forms' double-submit
/// token) a response sets.
pub(crate) fn csrf_cookie(response: &reqwest::Response) -> Option<String> {
    cookie(response, "pod_csrf")
}
