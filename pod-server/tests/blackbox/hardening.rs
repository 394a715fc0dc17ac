//! Hardening through the real server: slow and idle clients are cut off
//! while others are served, and no log line (even at `trace`) carries a
//! one-time code, an access token, a session or CSRF cookie; anonymous page
//! views write no session to the database; with SMTP set up,
//! email codes go by mail only, never to the outbox.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{ORDER, RECEIVED_EMAIL, authorize_confirms, speech};
use pod_ports::testing::smtp::fake_smtp;

use crate::support::{PATIENCE, Spawn, TestApp, csrf_cookie, session_cookie};

/// Reads until the server closes the connection (or resets it); panics if
/// it stays open past the hang guard. Writes `trickle` one byte at a time
/// meanwhile, a second apart, when given.
async fn wait_for_close(stream: &mut TcpStream, trickle: Option<&[u8]>) {
    let closed = async {
        let mut buf = [0u8; 1024];
        let mut bytes = trickle.unwrap_or_default().iter().cycle();
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                () = tokio::time::sleep(Duration::from_secs(1)), if trickle.is_some() => {
                    let byte = *bytes.next().unwrap();
                    if stream.write_all(&[byte]).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    tokio::time::timeout(PATIENCE, closed)
        .await
        .expect("the server closes the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_cut_off_while_others_are_served() {
    let app = TestApp::spawn().await;

    // A request line, then one header byte a second, never finishing.
    let mut slow = TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"POST /alexa HTTP/1.1\r\nHost: pod\r\nX-Slow: ")
        .await
        .unwrap();
    // A keep-alive connection that answered once and then stays idle.
    let mut idle = TcpStream::connect(app.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: pod\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");

    let slow_closed = tokio::spawn(async move { wait_for_close(&mut slow, Some(b"abc")).await });
    let idle_closed = tokio::spawn(async move { wait_for_close(&mut idle, None).await });

    // Meanwhile the server answers everyone else.
    for _ in 0..3 {
        let health = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    slow_closed.await.unwrap();
    idle_closed.await.unwrap();
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

/// Whether `text` has a line naming a code that shows `code` as a number
/// of its own (not part of a longer number or a decimal).
pub(crate) fn logs_code(text: &str, code: &str) -> Option<String> {
    text.lines()
        .find(|line| {
            line.to_ascii_lowercase().contains("code")
                && line.match_indices(code).any(|(at, _)| {
                    let before = line[..at].chars().next_back();
                    let after = line[at + code.len()..].chars().next();
                    let apart =
                        |c: Option<char>| !c.is_some_and(|c| c.is_ascii_digit() || c == '.');
                    apart(before) && apart(after)
                })
        })
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_carries_a_code_a_token_or_a_session_even_at_trace() {
    let app = Spawn::serve().log("trace").start().await;
    let token = app.token("demo").await;
    let mut alexa = app.alexa(Some(&token));
    assert_eq!(speech(&alexa.say(ORDER).await.unwrap()), RECEIVED_EMAIL);
    let order_code = app.last_code().code;
    authorize_confirms(&mut alexa, &order_code).await;

    // The web sign-in, as a browser goes through it.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(PATIENCE)
        .build()
        .unwrap();
    let page = client.get(app.url("/app/sign-in")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csrf_cookie = csrf_cookie(&page).expect("a CSRF cookie");
    let body = page.text().await.unwrap();
    let at = body.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    let csrf = body[at..].split('"').next().unwrap().to_owned();
    let post = |path: &str, cookies: String, form: Vec<(&'static str, String)>| {
        client
            .post(app.url(path))
            .header(reqwest::header::COOKIE, cookies)
            .form(&form)
            .send()
    };
    let sent = post(
        "/app/sign-in",
        format!("pod_csrf={csrf_cookie}"),
        vec![("csrf", csrf.clone()), ("login", "demo".into())],
    )
    .await
    .unwrap();
    assert_eq!(sent.status(), 303);
    let anonymous = session_cookie(&sent).expect("the sign-in session");
    let sign_in_code = app
        .outbox()
        .into_iter()
        .rfind(|e| e.purpose == "sign_in")
        .expect("a sign-in code")
        .code;
    let done = post(
        "/app/sign-in/code",
        format!("pod_csrf={csrf_cookie}; pod_session={anonymous}"),
        vec![("csrf", csrf.clone()), ("code", sign_in_code.clone())],
    )
    .await
    .unwrap();
    assert_eq!(done.status(), 303);
    let session = session_cookie(&done).expect("the signed-in session");
    let orders = client
        .get(app.url("/app"))
        .header(reqwest::header::COOKIE, format!("pod_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(orders.status(), 200);

    let log = app.stderr_text();
    assert!(
        log.contains("TRACE") || log.contains("trace"),
        "the log is at trace level"
    );
    for code in [&order_code, &sign_in_code] {
        if let Some(line) = logs_code(&log, code) {
            panic!("a log line carries the code {code}: {line}");
        }
    }
    for (what, secret) in [
        ("access token", token.as_str()),
        ("session cookie", session.as_str()),
        ("sign-in session cookie", anonymous.as_str()),
        ("CSRF cookie", csrf_cookie.as_str()),
        ("CSRF token", csrf.as_str()),
    ] {
        assert!(!log.contains(secret), "a log line carries the {what}");
    }
}

/// The number of rows in the `sessions` table of a server's SQLite file.
fn session_rows(app: &TestApp) -> i64 {
    let db = rusqlite::Connection::open_with_flags(
        app.data_dir.join(pod_server::app::DATABASE_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("the server's database");
    db.query_row("SELECT count(*) FROM sessions", [], |row| row.get(0))
        .expect("the sessions table")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_page_views_leave_the_session_table_unchanged() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(PATIENCE)
        .build()
        .unwrap();
    assert_eq!(session_rows(&app), 0);
    for _ in 0..20 {
        for path in [
            "/app/sign-in",
            "/app",
            "/app/",
            "/app/profile",
            "/app/privacy",
            "/app/login",
        ] {
            let page = client.get(app.url(path)).send().await.unwrap();
            assert!(page.status().as_u16() < 500, "{path}: {}", page.status());
            assert!(session_cookie(&page).is_none(), "{path} made a session");
        }
    }
    assert_eq!(session_rows(&app), 0, "page views wrote sessions");

    // A sign-in form without the matching CSRF cookie is refused, and
    // writes nothing either.
    let page = client.get(app.url("/app/sign-in")).send().await.unwrap();
    let cookie = format!("pod_csrf={}", csrf_cookie(&page).expect("a CSRF cookie"));
    let body = page.text().await.unwrap();
    let at = body.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    let csrf = body[at..].split('"').next().unwrap().to_owned();
    for (cookie, token) in [
        (None, csrf.as_str()),
        (Some(cookie.as_str()), "forged"),
        (Some(cookie.as_str()), ""),
    ] {
        let mut request = client
            .post(app.url("/app/sign-in"))
            .form(&[("csrf", token), ("login", "demo")]);
        if let Some(cookie) = cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        let refused = request.send().await.unwrap();
        assert_eq!(refused.status(), 403, "{cookie:?} {token:?}");
        assert!(session_cookie(&refused).is_none());
        let text = refused.text().await.unwrap();
        assert!(text.contains("pod did not act on it"), "{text}");
    }
    assert_eq!(session_rows(&app), 0, "refused forms wrote sessions");
    assert!(app.outbox().is_empty(), "no code went out");

    // The form posted with its cookie: the sign-in's session, the first row.
    let sent = client
        .post(app.url("/app/sign-in"))
        .header(reqwest::header::COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("login", "demo")])
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 303);
    assert!(session_cookie(&sent).is_some());
    assert_eq!(session_rows(&app), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_smtp_email_codes_go_by_mail_and_never_to_the_outbox() {
    let (port, mail) = fake_smtp().await;
    let app = Spawn::serve()
        .env("POD_SMTP_URL", format!("smtp://127.0.0.1:{port}"))
        .log("info")
        .start()
        .await;
    let token = app.token("demo").await;
    let mut alexa = app.alexa(Some(&token));
    assert_eq!(speech(&alexa.say(ORDER).await.unwrap()), RECEIVED_EMAIL);
    let mail = tokio::time::timeout(PATIENCE, mail)
        .await
        .expect("a mail")
        .unwrap();
    let at = mail.find("Your pod code is ").expect("a code in the mail") + 17;
    let code: String = mail[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 4, "{mail}");
    assert!(
        app.outbox().is_empty(),
        "no outbox line for an emailed code"
    );
    assert!(logs_code(&app.stderr_text(), &code).is_none());

    authorize_confirms(&mut alexa, &code).await;
}
