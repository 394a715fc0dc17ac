//! How the listeners treat connections: a deadline for request headers
//! (which also ends idle keep-alive connections) and a cap on the
//! connections served at once, for the plain listener and TLS alike.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a client may take to send a request's headers, counted from
/// when the connection is ready for a request: a slow client trickling a
/// request line is cut off after this, and so is a keep-alive connection
/// that stays idle this long.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a new connection (after TLS, if any) may take to deliver its
/// first complete request head, whatever the protocol.
pub const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Applies the connection limits to an `axum_server` server.
pub fn limit<Acc>(
    mut server: axum_server::Server<SocketAddr, Acc>,
) -> axum_server::Server<SocketAddr, Acc> {
    server
        .http_builder()
        .http1()
        .header_read_timeout(Some(HEADER_READ_TIMEOUT))
        .keep_alive(true);
    server
        .http_builder()
        .http2()
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20));
    server
        .first_request_timeout(FIRST_REQUEST_TIMEOUT)
        .accept_error_handler(|peer, error| {
            tracing::debug!(?peer, %error, "connection not served");
        })
}

/// An acceptor that serves a connection only while fewer than the cap are
/// open: beyond it, a new connection is closed at once (before any TLS
/// handshake). The permit lives as long as the connection's stream.
#[derive(Debug, Clone)]
pub struct CappedAcceptor<A> {
    inner: A,
    permits: Arc<Semaphore>,
}

impl<A> CappedAcceptor<A> {
    /// At most `max` connections at once through `inner`.
    pub fn new(inner: A, max: u32) -> Self {
        CappedAcceptor {
            inner,
            permits: Arc::new(Semaphore::new(max as usize)),
        }
    }
}

impl<A, I, S> Accept<I, S> for CappedAcceptor<A>
where
    A: Accept<Permitted<I>, S> + Clone + Send + Sync + 'static,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
    I: Send + 'static,
    S: Send + 'static,
{
    type Stream = A::Stream;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = io::Result<(A::Stream, A::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let accepted = self.inner.accept(
                    Permitted {
                        stream,
                        _permit: permit,
                    },
                    service,
                );
                Box::pin(accepted)
            }
            Err(_) => {
                tracing::warn!(
                    "connection limit reached (POD_MAX_CONNECTIONS): closing a new connection"
                );
                Box::pin(std::future::ready(Err(io::Error::other(
                    "connection limit reached",
                ))))
            }
        }
    }
}

/// A stream holding one of the cap's permits until it is dropped.
#[derive(Debug)]
pub struct Permitted<I> {
    stream: I,
    _permit: OwnedSemaphorePermit,
}

impl<I: AsyncRead + Unpin> AsyncRead for Permitted<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Permitted<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
