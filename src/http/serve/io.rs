//! The socket as hyper sees it: reports reads, writes and flushes to the
//! connection's [`Conn`], and replaces the bare error answers hyper writes by
//! itself with problem+json.
//!
//! hyper answers a request head it cannot accept (unparsable, differing
//! `Content-Length`s, a target over 64 KiB, a head over its buffer) with a bare
//! `400`, `414` or `431` and `content-length: 0`, then closes; no service is
//! called, so axum never sees it. How we know a write is that answer:
//!
//! - A request is in flight from the service call until hyper drops its response
//!   body, which it does once the body's last bytes are in its write buffer.
//! - hyper flushes the socket only after writing out its whole buffer. So once a
//!   flush succeeds with nothing in flight, every byte of every response we gave
//!   hyper is on the wire, and the stream is between messages.
//! - From then until the next service call, hyper writes nothing of ours: an
//!   interim `100 Continue` needs a request in flight, a response needs a service
//!   call. What it writes is its own error answer.
//!
//! Such a write is recognised (it must also start with a status line of 4xx or
//! 5xx), taken whole from hyper, and the problem+json answer of the same status,
//! with `connection: close`, goes to the socket in its place. Anything else
//! written while quiet passes through untouched. Pipelined requests, event
//! streams and `100 Continue` never meet the check, since a request is in flight.

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::conn::Conn;
use crate::clock::{Clock, SystemClock};
use crate::http::error::ApiError;

pub struct WatchedIo {
    inner: TcpStream,
    conn: Arc<Conn>,
    /// Our answer in place of hyper's, and how much of it is written.
    replacement: Option<(Vec<u8>, usize)>,
}

impl WatchedIo {
    pub fn new(inner: TcpStream, conn: Arc<Conn>) -> Self {
        Self {
            inner,
            conn,
            replacement: None,
        }
    }

    /// Writes what is left of the replacement answer.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Some((bytes, written)) = &mut self.replacement {
            while *written < bytes.len() {
                let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Tells the connection's watcher how a write to the socket went: stuck
    /// (the client is not reading) or progressing.
    fn track(&self, written: Poll<std::io::Result<usize>>) -> Poll<std::io::Result<usize>> {
        match &written {
            Poll::Pending => self.conn.on_write_pending(),
            Poll::Ready(Ok(_)) => self.conn.on_written(),
            Poll::Ready(Err(_)) => {}
        }
        written
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        this.conn.on_read(buf.filled().len() - before);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.replacement.is_some() {
            // The rest of hyper's answer, if it came in pieces: dropped.
            ready!(this.poll_replacement(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        if this.conn.writes_are_hypers_own() {
            match problem_in_place_of(buf) {
                Some(answer) => {
                    tracing::debug!("replacing hyper's bare error answer with problem+json");
                    this.replacement = Some((answer, 0));
                    // Sent by the flush that follows, if not now.
                    let _ = this.poll_replacement(cx)?;
                    return Poll::Ready(Ok(buf.len()));
                }
                None => this.conn.not_hypers_error(),
            }
        }
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.track(written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.replacement.is_some() || this.conn.writes_are_hypers_own() {
            // hyper's head is one buffer; look at it alone.
            let first = bufs.iter().find(|buf| !buf.is_empty());
            return Pin::new(this).poll_write(cx, first.map_or(&[][..], |buf| &buf[..]));
        }
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.track(written)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
        this.conn.on_flushed();
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// Our answer in place of `written`, if it is an error answer's head
/// (`HTTP/1.x 4xx` or `5xx`).
fn problem_in_place_of(written: &[u8]) -> Option<Vec<u8>> {
    let version = written.get(..8).filter(|v| v.starts_with(b"HTTP/1."))?;
    let code = written
        .get(9..12)
        .filter(|_| written.get(8) == Some(&b' '))?;
    let status = StatusCode::from_bytes(code).ok()?;
    if !(status.is_client_error() || status.is_server_error()) {
        return None;
    }
    let detail = match status {
        StatusCode::URI_TOO_LONG => "the request target is longer than this server accepts",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            "the request headers are larger than this server accepts"
        }
        _ => {
            "the request could not be parsed: a malformed request line or header, or conflicting message lengths"
        }
    };
    let body = ApiError::from_status(status, detail.to_owned())
        .problem()
        .to_string();
    let date = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&SystemClock.now())
        .ok();
    let mut answer = Vec::with_capacity(body.len() + 192);
    answer.extend_from_slice(version);
    answer.extend_from_slice(
        format!(
            " {} {}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            body.len(),
        )
        .as_bytes(),
    );
    if let Some(date) = date {
        answer.extend_from_slice(format!("date: {date}\r\n").as_bytes());
    }
    answer.extend_from_slice(b"\r\n");
    answer.extend_from_slice(body.as_bytes());
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_head_is_replaced_by_a_problem_of_the_same_status() {
        let answer = problem_in_place_of(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n",
        )
        .expect("an error head");
        let text = String::from_utf8(answer).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains("content-type: application/problem+json"));
        assert!(head.contains("connection: close"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], 431);
        assert_eq!(
            problem["type"],
            "https://pactum.dev/problems/headers-too-large"
        );
    }

    #[test]
    fn anything_else_is_left_alone() {
        for written in [
            &b"HTTP/1.1 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"0\r\n\r\n",
            b"HTTP/1.1",
            b"",
        ] {
            assert!(problem_in_place_of(written).is_none());
        }
    }
}
