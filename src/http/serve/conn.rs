//! What one connection is doing, as seen from its socket ([`super::io`]) and its
//! service ([`super::service`]): requests in flight, when it went quiet, when a
//! new request's head started, whether writes are stuck. [`Conn::expired`] turns
//! that into the connection's next deadline.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::HttpLimits;

pub struct Conn {
    state: Mutex<State>,
    /// Wakes [`Conn::expired`] when a deadline starts.
    changed: Notify,
}

struct State {
    /// Requests handed to the service whose response body has not ended.
    in_flight: usize,
    /// Since when nothing is in flight (accept, or the end of the last
    /// response), moved on by every write.
    quiet_since: Instant,
    /// When the first byte of a request arrived while nothing was in flight.
    head_started: Option<Instant>,
    /// Since when the socket refuses what we write.
    write_stalled_since: Option<Instant>,
    /// Nothing is in flight and everything the service answered has been
    /// flushed to the socket: whatever hyper writes now is its own error answer.
    flushed_and_quiet: bool,
}

impl Conn {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                in_flight: 0,
                quiet_since: Instant::now(),
                head_started: None,
                write_stalled_since: None,
                flushed_and_quiet: true,
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The lock is only held for plain field updates; nothing can poison it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A request reaches the service; it is in flight until the guard drops
    /// (with the response body, once hyper has written all of it).
    pub fn dispatched(self: &std::sync::Arc<Self>) -> InFlight {
        let mut state = self.state();
        state.in_flight += 1;
        state.head_started = None;
        state.flushed_and_quiet = false;
        InFlight(std::sync::Arc::clone(self))
    }

    pub fn on_read(&self, bytes: usize) {
        let mut state = self.state();
        if bytes > 0 && state.in_flight == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    pub fn on_write_pending(&self) {
        let mut state = self.state();
        if state.write_stalled_since.is_none() {
            state.write_stalled_since = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    pub fn on_written(&self) {
        let mut state = self.state();
        state.write_stalled_since = None;
        if state.in_flight == 0 {
            state.quiet_since = Instant::now();
        }
    }

    pub fn on_flushed(&self) {
        let mut state = self.state();
        if state.in_flight == 0 {
            state.flushed_and_quiet = true;
        }
    }

    /// Whether what is written now can only be hyper's own error answer.
    pub fn writes_are_hypers_own(&self) -> bool {
        self.state().flushed_and_quiet
    }

    /// Something other than an error answer was written while quiet: stop
    /// looking until the next flush.
    pub fn not_hypers_error(&self) {
        self.state().flushed_and_quiet = false;
    }

    /// Resolves, with the reason, once the connection should be closed.
    pub async fn expired(&self, limits: &HttpLimits) -> &'static str {
        loop {
            let changed = self.changed.notified();
            let next = self.state().next_deadline(limits);
            match next {
                Some((at, reason)) if at <= Instant::now() => return reason,
                Some((at, _)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }
}

impl State {
    fn next_deadline(&self, limits: &HttpLimits) -> Option<(Instant, &'static str)> {
        let mut next: Option<(Instant, &'static str)> = None;
        let mut consider = |since: Instant, timeout: Duration, reason| {
            let at = since + timeout;
            if next.is_none_or(|(earliest, _)| at < earliest) {
                next = Some((at, reason));
            }
        };
        if let Some(since) = self.write_stalled_since {
            consider(since, limits.idle_timeout, "the client stopped reading");
        }
        if self.in_flight == 0 {
            match self.head_started {
                Some(since) => consider(since, limits.header_timeout, "request headers too slow"),
                None => consider(self.quiet_since, limits.idle_timeout, "idle"),
            }
        }
        next
    }
}

/// A request in flight; dropped with its response body.
pub struct InFlight(std::sync::Arc<Conn>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.quiet_since = Instant::now();
            drop(state);
            self.0.changed.notify_one();
        }
    }
}
