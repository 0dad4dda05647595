//! Serving HTTP/1.1 connections so that clients without a token cannot exhaust
//! the server: the accept loop, the limits of [`HttpLimits`], and the life of one
//! connection. Start with [`serve`].
//!
//! - **A connection cap.** Each connection holds a permit of one semaphore for its
//!   whole life; at the cap the loop stops accepting and new clients wait in the
//!   kernel's backlog until a connection ends. The cap is kept below the process's
//!   descriptor limit (raised to its hard limit at start) with [`FD_RESERVE`] left
//!   for the database, documents and logs. Draining at shutdown is the same
//!   semaphore: once every permit is back, every connection has ended.
//! - **Timeouts of our own** ([`conn::Conn`] watches each connection): from the
//!   first byte of a request to the end of its headers (`header_timeout`), from
//!   the end of the headers to the end of the body (`body_timeout`, answered 408),
//!   and between requests (`idle_timeout`). A request in flight is never idle, so
//!   an event stream stays open as long as the client reads it; a client that
//!   stops reading what we write is cut after `idle_timeout` without progress.
//!   hyper's own `header_read_timeout` cannot tell waiting for a request from
//!   reading one (its timer runs from the end of the previous response), so it is
//!   set to the sum of both, as a backstop only.
//! - **Head limits** (request-target length, header count and bytes) are checked
//!   before routing and answered 414 or 431 problem+json; hyper's own limits are
//!   set above ours. What hyper still refuses itself (unparsable heads, differing
//!   `Content-Length`s, a target over 64 KiB, heads over its buffer) it answers
//!   with a bare status; [`io::WatchedIo`] replaces that answer on the wire with
//!   problem+json (see there for how it knows the answer is hyper's).
//! - On accept errors (out of descriptors) the loop backs off instead of spinning.

mod conn;
mod io;
mod service;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use conn::Conn;
use io::WatchedIo;
use service::Dispatch;

/// How long the accept loop pauses after an error such as "too many open files".
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Descriptors kept for everything but client connections: database files and
/// pool, documents, fonts, logs, NATS.
pub const FD_RESERVE: u64 = 256;

/// hyper's default read buffer (8 KiB + 100 × 4 KiB); a head must fit in it.
const HYPER_DEFAULT_BUF: usize = 8192 + 4096 * 100;

/// Limits on what one client may hold or send (`pactum serve --help` names the
/// flags; README.md's Operations section the defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// From the first byte of a request to the end of its headers.
    pub header_timeout: Duration,
    /// From the end of a request's headers to the end of its body.
    pub body_timeout: Duration,
    /// How long a connection may wait for its next request; also how long a
    /// client may leave what we write unread.
    pub idle_timeout: Duration,
    /// Open connections at most (clipped by the descriptor limit).
    pub max_connections: usize,
    /// Longest request target (path and query), in bytes.
    pub max_uri_length: usize,
    /// Most header fields in one request.
    pub max_headers: usize,
    /// Most bytes of header fields in one request (names, values, separators).
    pub max_header_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            max_uri_length: 8 * 1024,
            max_headers: 100,
            max_header_bytes: 32 * 1024,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then lets the
/// open connections finish their requests and waits for them.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
) {
    let cap = connection_cap(limits.max_connections, raise_fd_limit());
    if cap < limits.max_connections {
        tracing::warn!(
            configured = limits.max_connections,
            cap,
            "the descriptor limit lowers the connection cap"
        );
    }
    let permits = Arc::new(Semaphore::new(cap));
    let builder = Arc::new(builder(&limits));
    let limits = Arc::new(limits);
    let mut failing = false;
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => {
                permit.expect("the semaphore is never closed")
            }
            () = shutdown.cancelled() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "accept failed; backing off");
                    }
                    failing = true;
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        failing = false;
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            Arc::clone(&builder),
            router.clone(),
            Arc::clone(&limits),
            shutdown.clone(),
            permit,
        ));
    }
    drop(listener);
    let all = u32::try_from(cap).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
}

fn builder(limits: &HttpLimits) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout + limits.idle_timeout)
        // Above ours, so that ours answer first (see the module doc).
        .max_headers(limits.max_headers.saturating_mul(2).max(100))
        .max_buf_size(
            (limits.max_uri_length + limits.max_header_bytes + 64 * 1024).max(HYPER_DEFAULT_BUF),
        );
    builder
}

/// One connection, from accept to close.
async fn connection(
    stream: TcpStream,
    builder: Arc<http1::Builder>,
    router: Router,
    limits: Arc<HttpLimits>,
    shutdown: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let conn = Arc::new(Conn::new());
    let io = TokioIo::new(WatchedIo::new(stream, Arc::clone(&conn)));
    let service = Dispatch::new(router, Arc::clone(&conn), Arc::clone(&limits));
    let serving = builder.serve_connection(io, service);
    tokio::pin!(serving);
    let mut draining = false;
    loop {
        tokio::select! {
            result = serving.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = shutdown.cancelled(), if !draining => {
                serving.as_mut().graceful_shutdown();
                draining = true;
            }
            reason = conn.expired(&limits) => {
                tracing::debug!(reason, "closing the connection");
                return;
            }
        }
    }
}

/// Errors of one connection that the listener survives unchanged.
fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

/// The connection cap: `configured`, but below the descriptor limit.
pub fn connection_cap(configured: usize, fd_limit: Option<u64>) -> usize {
    let configured = configured.max(1);
    match fd_limit {
        Some(limit) => {
            let room = usize::try_from(limit.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX);
            configured.min(room.max(1))
        }
        None => configured,
    }
}

/// Raises the soft limit on open descriptors to the hard limit; returns the
/// soft limit in effect afterwards (`None` where there is none to read).
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we pass and nothing else.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return None;
        }
        // An unlimited hard limit is not a valid soft one; a million is plenty.
        let target = if limit.rlim_max == libc::RLIM_INFINITY {
            1 << 20
        } else {
            limit.rlim_max
        };
        if limit.rlim_cur != libc::RLIM_INFINITY && limit.rlim_cur < target {
            let raised = libc::rlimit {
                rlim_cur: target,
                rlim_max: limit.rlim_max,
            };
            // SAFETY: setrlimit reads the struct we pass; failure leaves the limit.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                limit.rlim_cur = target;
            }
        }
        #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every target
        Some(limit.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_descriptors_for_the_rest() {
        assert_eq!(connection_cap(4096, Some(1024)), 1024 - FD_RESERVE as usize);
        assert_eq!(connection_cap(4096, Some(65536)), 4096);
        assert_eq!(connection_cap(4096, Some(10)), 1);
        assert_eq!(connection_cap(4096, None), 4096);
    }
}
