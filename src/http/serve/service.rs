//! The router as hyper's service for one connection: checks the head's limits
//! before routing (414, 431), gives the body a deadline (408), and keeps the
//! request in flight on the connection's [`Conn`] until its response body ends.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Request, Response, header};
use axum::response::IntoResponse;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use super::HttpLimits;
use super::conn::{Conn, InFlight};
use crate::http::error::ApiError;

#[derive(Clone)]
pub struct Dispatch {
    router: Router,
    conn: Arc<Conn>,
    limits: Arc<HttpLimits>,
}

impl Dispatch {
    pub fn new(router: Router, conn: Arc<Conn>, limits: Arc<HttpLimits>) -> Self {
        Self {
            router,
            conn,
            limits,
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Dispatch {
    type Response = Response<InFlightBody>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_flight = self.conn.dispatched();
        if let Err(error) = check_head(&request, &self.limits) {
            let response = closing(error.into_response());
            return Box::pin(std::future::ready(Ok(in_flight_body(response, in_flight))));
        }
        let body_timeout = self.limits.body_timeout;
        let timed_out = Arc::new(AtomicBool::new(false));
        let request = request.map(|body| {
            Body::new(DeadlineBody {
                inner: body,
                deadline: Instant::now() + body_timeout,
                sleep: None,
                timed_out: Arc::clone(&timed_out),
            })
        });
        let router = self.router.clone();
        Box::pin(async move {
            let response = router
                .oneshot(request)
                .await
                .unwrap_or_else(|never| match never {});
            // Whatever the handler made of the failed read, the answer is 408.
            let response = if timed_out.load(Ordering::Relaxed) {
                closing(ApiError::RequestTimeout(body_timeout).into_response())
            } else {
                response
            };
            Ok(in_flight_body(response, in_flight))
        })
    }
}

/// The head's limits: the request target's length, the number and size of
/// header fields.
fn check_head<B>(request: &Request<B>, limits: &HttpLimits) -> Result<(), ApiError> {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(0, |pq| pq.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.scheme_str().map_or(0, str::len);
    if target > limits.max_uri_length {
        return Err(ApiError::UriTooLong(format!(
            "the request target has {target} bytes; at most {} are accepted",
            limits.max_uri_length
        )));
    }
    let headers = request.headers();
    if headers.len() > limits.max_headers {
        return Err(ApiError::HeadersTooLarge(format!(
            "the request has {} header fields; at most {} are accepted",
            headers.len(),
            limits.max_headers
        )));
    }
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if bytes > limits.max_header_bytes {
        return Err(ApiError::HeadersTooLarge(format!(
            "the request's header fields have {bytes} bytes; at most {} are accepted",
            limits.max_header_bytes
        )));
    }
    Ok(())
}

/// The connection ends after this answer: the rest of the request is unread.
fn closing(mut response: axum::response::Response) -> axum::response::Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn in_flight_body(
    response: axum::response::Response,
    in_flight: InFlight,
) -> Response<InFlightBody> {
    response.map(|inner| InFlightBody {
        inner,
        _in_flight: in_flight,
    })
}

/// A response body that keeps its request in flight until hyper drops it.
pub struct InFlightBody {
    inner: Body,
    _in_flight: InFlight,
}

impl http_body::Body for InFlightBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that fails once its deadline passes, noting that it did.
struct DeadlineBody {
    inner: Incoming,
    deadline: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    timed_out: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimedOut;

impl DeadlineBody {
    fn expire(&mut self) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        self.timed_out.store(true, Ordering::Relaxed);
        Poll::Ready(Some(Err(BodyTimedOut.into())))
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = &mut *self;
        if Instant::now() >= this.deadline && !this.inner.is_end_stream() {
            return this.expire();
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let deadline = this.deadline;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => this.expire(),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
