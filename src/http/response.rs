//! How every command and read answers over HTTP: the status, `ETag`,
//! `Location`, `Pactum-Position` and `Idempotent-Replayed` headers of a
//! command's answer, shared by every area's handlers.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use serde::Serialize;

use crate::runner::{Effect, Ran};

/// The global log position a command wrote (read your writes with it).
pub static POSITION: HeaderName = HeaderName::from_static("pactum-position");
static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header")
}

/// A page of a list read from a projection: the page as JSON, and the log
/// position every event up to which it reflects (read your writes with it).
///
/// Serialised into a `Vec` sized for a page, not through `axum::Json`, whose
/// writer grows a buffer from 128 bytes one small write at a time (a queue
/// page is tens of kilobytes in several thousand writes).
pub fn listed<T: Serialize>(page: &T, position: u64) -> Response {
    let mut body = Vec::with_capacity(16 * 1024);
    serde_json::to_writer(&mut body, page).expect("pages serialize");
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(POSITION.clone(), position.into());
    response
}

/// The answer to a removal: 204, with the position of the removal (or of the
/// first answer, for a retry).
pub fn removed<T>(answer: Ran<T>) -> Response {
    let position = match answer {
        Ran::Done { position, .. } => position,
        Ran::Replayed(replayed) => replayed.position,
    };
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(POSITION.clone(), position.into());
    response
}

/// Turns a command's answer into the HTTP response: 201 with `Location` for a
/// creation (`location` says where the created thing lives), else 200; retries
/// get the first answer.
pub fn respond<T: Serialize>(answer: Ran<T>, location: Option<String>) -> Response {
    let json = HeaderValue::from_static("application/json");
    match answer {
        Ran::Done {
            answer,
            version,
            position,
        } => {
            let status = match location {
                Some(_) => StatusCode::CREATED,
                None => StatusCode::OK,
            };
            let body = serde_json::to_string(&answer).expect("answers serialize");
            let mut response = (status, body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, json);
            headers.insert(header::ETAG, etag(version));
            headers.insert(POSITION.clone(), position.into());
            if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                headers.insert(header::LOCATION, location);
            }
            response
        }
        Ran::Replayed(replayed) => {
            let status = match replayed.effect {
                Effect::Created => StatusCode::CREATED,
                Effect::Changed => StatusCode::OK,
            };
            let version = serde_json::from_str::<Value>(&replayed.body)
                .ok()
                .and_then(|body| body.get("version")?.as_u64());
            let mut response = (status, replayed.body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, json);
            headers.insert(POSITION.clone(), replayed.position.into());
            headers.insert(REPLAYED.clone(), HeaderValue::from_static("true"));
            if let Some(version) = version {
                headers.insert(header::ETAG, etag(version));
            }
            response
        }
    }
}
