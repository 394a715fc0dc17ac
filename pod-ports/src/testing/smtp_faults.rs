//! An SMTP server on loopback that can misbehave, for the fault tests: it
//! serves every connection on a listener the test chose (so it can stand in
//! for a server pod was pointed at before it came up), and either accepts
//! mail, refuses it with a given reply, or stalls without a word.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the server treats a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpBehaviour {
    /// Accepts it.
    Accept,
    /// Answers `MAIL FROM` with this reply (such as `"451 4.3.0 try
    /// again later"` or `"554 5.7.1 refused"`), and every later command too.
    Refuse(&'static str),
    /// Accepts the connection and never says anything.
    Stall,
}

/// A running server; stops when dropped.
#[derive(Debug)]
pub struct SmtpServer {
    port: u16,
    messages: Arc<Mutex<Vec<String>>>,
    task: Option<JoinHandle<()>>,
}

impl SmtpServer {
    /// Serves `listener` (bound by the caller) with `behaviour`.
    pub fn start_on(listener: std::net::TcpListener, behaviour: SmtpBehaviour) -> SmtpServer {
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let port = listener.local_addr().expect("its address").port();
        let listener = TcpListener::from_std(listener).expect("a tokio listener");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                if behaviour == SmtpBehaviour::Stall {
                    held.push(stream);
                    continue;
                }
                let sink = sink.clone();
                tokio::spawn(async move {
                    if let Some(message) = converse(stream, behaviour).await {
                        sink.lock().unwrap_or_else(|p| p.into_inner()).push(message);
                    }
                });
            }
        });
        SmtpServer {
            port,
            messages,
            task: Some(task),
        }
    }

    /// Serves a free 127.0.0.1 port with `behaviour`.
    pub fn start(behaviour: SmtpBehaviour) -> SmtpServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        Self::start_on(listener, behaviour)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server and waits until its port is free again.
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Every message accepted so far (what followed `DATA`).
    pub fn messages(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// One SMTP conversation; the message, when one was accepted.
async fn converse(stream: TcpStream, behaviour: SmtpBehaviour) -> Option<String> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write
        .write_all(b"220 localhost fake ESMTP\r\n")
        .await
        .ok()?;
    let (mut data, mut in_data, mut refusing) = (String::new(), false, false);
    let mut accepted = None;
    while let Ok(Some(line)) = lines.next_line().await {
        if in_data {
            if line == "." {
                in_data = false;
                accepted = Some(std::mem::take(&mut data));
                write.write_all(b"250 2.0.0 queued\r\n").await.ok()?;
            } else {
                data.push_str(&line);
                data.push('\n');
            }
            continue;
        }
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        if let SmtpBehaviour::Refuse(reply) = behaviour
            && (refusing || verb == "MAIL")
            && verb != "QUIT"
        {
            refusing = true;
            write
                .write_all(format!("{reply}\r\n").as_bytes())
                .await
                .ok()?;
            continue;
        }
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 localhost\r\n",
            "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 2.1.0 ok\r\n",
            "DATA" => {
                in_data = true;
                b"354 go ahead\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                break;
            }
            _ => b"502 not implemented\r\n",
        };
        write.write_all(reply).await.ok()?;
    }
    accepted
}
