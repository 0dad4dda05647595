//! The EOSC Marketplace's Ordering API, as an OMS speaks it (OpenAPI 3.0.1
//! "EOSC Marketplace Ordering API", `swagger/v1/ordering/` of
//! cyfronet-fid/marketplace):
//!
//! - base `{url}/api/v1/oms/{oms_id}`, the OMS user's token in `X-User-Token`;
//!   errors `{"error": ...}` with 400, 401 (token unknown), 403 (the token's
//!   user does not administer this OMS), 404;
//! - `GET events?from_timestamp=&limit=` → `{"events": [...]}`, timestamps with
//!   whole seconds, "created after" the given one;
//! - `GET projects/{id}`; `GET`/`PATCH projects/{pid}/project_items/{iid}`
//!   (`{"status": {"value", "type"}}` and/or `user_secrets`);
//! - `GET messages?project_id=&project_item_id=&from_id=&limit=` (ids above
//!   `from_id`, by id, 20 by default) → `{"messages": [...]}`; `POST messages`.
//!
//! Requests time out after [`TIMEOUT`]; every failure is a [`ClientError`]
//! that says what to check.

use std::time::Duration;

use jiff::Timestamp;
use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// How long one request may take, its answer read whole.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Characters of a refused answer's body an error quotes.
const EXCERPT: usize = 300;

/// The project item status types of the Ordering API.
pub const STATUS_TYPES: [&str; 8] = [
    "created",
    "registered",
    "in_progress",
    "waiting_for_response",
    "approved",
    "ready",
    "closed",
    "rejected",
];

/// One entry of the events feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEvent {
    pub timestamp: String,
    /// `create`, `update` or `delete`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `project`, `project_item` or `message`.
    pub resource: String,
    #[serde(default)]
    pub project_id: Option<u64>,
    #[serde(default)]
    pub project_item_id: Option<u64>,
    #[serde(default)]
    pub message_id: Option<u64>,
    #[serde(default)]
    pub changes: Option<Vec<Change>>,
}

impl FeedEvent {
    /// Its timestamp, if it reads as one.
    pub fn at(&self) -> Option<Timestamp> {
        self.timestamp.parse().ok()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    #[serde(default)]
    pub before: Value,
    #[serde(default)]
    pub after: Value,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
struct Events {
    events: Vec<FeedEvent>,
}

/// Who owns a project.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Project {
    pub id: u64,
    pub owner: Owner,
    #[serde(default)]
    pub project_items: Vec<u64>,
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

impl Project {
    /// A text attribute, trimmed; `None` when absent or blank.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        text_attribute(&self.attributes, name)
    }
}

/// Attribute `name` of a project or an item as text, trimmed; `None` when
/// absent, not text, or blank.
fn text_attribute<'a>(attributes: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    attributes
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemStatus {
    pub value: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ProjectItem {
    pub id: u64,
    pub project_id: u64,
    pub status: ItemStatus,
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

impl ProjectItem {
    /// A text attribute, trimmed; `None` when absent or blank.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        text_attribute(&self.attributes, name)
    }

    /// `offer_properties` as (label, value) pairs; a value that is not a
    /// string (a number, a list) in its JSON text.
    pub fn offer_properties(&self) -> Vec<(String, String)> {
        let Some(Value::Array(properties)) = self.attributes.get("offer_properties") else {
            return Vec::new();
        };
        properties
            .iter()
            .filter_map(|property| {
                let label = property.get("label")?.as_str()?.trim().to_owned();
                let value = match property.get("value") {
                    Some(Value::String(text)) => text.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                Some((label, value))
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub email: String,
    pub name: String,
    /// `user`, `provider` or `mediator`.
    pub role: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Message {
    pub id: u64,
    pub author: Author,
    pub content: String,
    /// `public`, `internal` or `user_direct`.
    pub scope: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
struct Messages {
    messages: Vec<Message>,
}

/// A message to post on a project item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewMessage {
    pub project_id: u64,
    pub project_item_id: u64,
    pub author: Author,
    pub content: String,
    pub scope: String,
}

/// Why the Marketplace could not be read or told.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the EOSC Marketplace URL {url:?} {reason}")]
    BaseUrl { url: String, reason: &'static str },
    #[error("the OMS token cannot be sent as a header (it holds a character headers cannot carry)")]
    BadToken,
    /// 401: the token is unknown to the Marketplace.
    #[error(
        "the EOSC Marketplace refused the OMS token (401 Unauthorized: {body}); check PACTUM_EOSC_TOKEN"
    )]
    Unauthorized { body: String },
    /// 403: the token's user does not administer this OMS.
    #[error(
        "the EOSC Marketplace refused access to OMS {oms_id} (403 Forbidden: {body}); check --eosc-oms-id and that the token's user administers that OMS"
    )]
    Forbidden { oms_id: String, body: String },
    /// Any other answer that is not a success, with the start of its body.
    #[error("the EOSC Marketplace answered {method} {path} with {status}: {body}")]
    Status {
        method: Method,
        path: String,
        status: StatusCode,
        body: String,
    },
    #[error("the EOSC Marketplace did not answer {path} within {} s", TIMEOUT.as_secs())]
    Timeout { path: String },
    /// No answer: the connection failed (with every cause, innermost last).
    #[error("the request to the EOSC Marketplace ({path}) failed: {detail}")]
    Request { path: String, detail: String },
    #[error("the EOSC Marketplace's answer to {path} is not what its API describes: {reason}")]
    Shape { path: String, reason: String },
}

impl ClientError {
    /// Whether the OMS's credentials or configuration are wrong: nothing
    /// works until someone fixes them, so a pass stops at once.
    pub fn is_access(&self) -> bool {
        matches!(
            self,
            Self::Unauthorized { .. } | Self::Forbidden { .. } | Self::BadToken
        )
    }
}

/// The Ordering API of one OMS.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// `{url}/api/v1/oms/{oms_id}/`.
    base: Url,
    oms_id: String,
    token: HeaderValue,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The OMS `oms_id` of the Marketplace at `url` (its root, e.g.
    /// `https://marketplace.eosc-portal.eu`; `/api/v1/...` is appended).
    pub fn new(url: &str, oms_id: &str, token: &str) -> Result<Self, ClientError> {
        let bad = |reason| ClientError::BaseUrl {
            url: url.to_owned(),
            reason,
        };
        let root = Url::parse(url).map_err(|_| bad("is not a URL"))?;
        if !matches!(root.scheme(), "http" | "https") {
            return Err(bad("is not http(s)"));
        }
        if root.query().is_some() || root.fragment().is_some() {
            return Err(bad("must not carry a query or fragment"));
        }
        let mut base = root;
        // The root, or the API's own base (`…/api/v1`) given by mistake.
        let given_api = base.path().trim_end_matches('/').ends_with("/api/v1");
        let mut segments = base
            .path_segments_mut()
            .map_err(|()| bad("cannot be a base"))?;
        segments.pop_if_empty();
        if !given_api {
            segments.extend(["api", "v1"]);
        }
        segments.extend(["oms", oms_id, ""]);
        drop(segments);
        let mut token = HeaderValue::from_str(token).map_err(|_| ClientError::BadToken)?;
        token.set_sensitive(true);
        Ok(Self {
            http: reqwest::Client::new(),
            base,
            oms_id: oms_id.to_owned(),
            token,
        })
    }

    pub fn oms_id(&self) -> &str {
        &self.oms_id
    }

    /// Events after `from` (the Marketplace's feed: "created after", whole
    /// seconds), at most `limit`.
    pub async fn events(&self, from: Timestamp, limit: u32) -> Result<Vec<FeedEvent>, ClientError> {
        let from = from.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let limit = limit.to_string();
        let events: Events = self
            .send(
                Method::GET,
                "events",
                &[("from_timestamp", &from), ("limit", &limit)],
                None,
            )
            .await?;
        Ok(events.events)
    }

    pub async fn project(&self, project_id: u64) -> Result<Project, ClientError> {
        self.send(Method::GET, &format!("projects/{project_id}"), &[], None)
            .await
    }

    pub async fn project_item(
        &self,
        project_id: u64,
        project_item_id: u64,
    ) -> Result<ProjectItem, ClientError> {
        let path = format!("projects/{project_id}/project_items/{project_item_id}");
        self.send(Method::GET, &path, &[], None).await
    }

    /// Sets a project item's status.
    pub async fn set_status(
        &self,
        project_id: u64,
        project_item_id: u64,
        status_type: &str,
        value: &str,
    ) -> Result<ProjectItem, ClientError> {
        let path = format!("projects/{project_id}/project_items/{project_item_id}");
        let body = json!({"status": {"value": value, "type": status_type}});
        self.send(Method::PATCH, &path, &[], Some(body)).await
    }

    /// Messages of a project item with ids above `from_id`, oldest first, at
    /// most `limit`.
    pub async fn messages(
        &self,
        project_id: u64,
        project_item_id: u64,
        from_id: u64,
        limit: u32,
    ) -> Result<Vec<Message>, ClientError> {
        let (project, item, from, limit) = (
            project_id.to_string(),
            project_item_id.to_string(),
            from_id.to_string(),
            limit.to_string(),
        );
        let messages: Messages = self
            .send(
                Method::GET,
                "messages",
                &[
                    ("project_id", &project),
                    ("project_item_id", &item),
                    ("from_id", &from),
                    ("limit", &limit),
                ],
                None,
            )
            .await?;
        Ok(messages.messages)
    }

    pub async fn post_message(&self, message: &NewMessage) -> Result<Message, ClientError> {
        let body = serde_json::to_value(message).expect("messages serialize");
        self.send(Method::POST, "messages", &[], Some(body)).await
    }

    #[tracing::instrument(skip(self, query, body), fields(oms_id = %self.oms_id))]
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<T, ClientError> {
        let mut url = self.base.join(path).map_err(|_| ClientError::BaseUrl {
            url: self.base.to_string(),
            reason: "cannot be joined with an API path",
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut request = self
            .http
            .request(method.clone(), url)
            .header("X-User-Token", self.token.clone())
            .header(ACCEPT, "application/json")
            .timeout(TIMEOUT);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let failed = |source: reqwest::Error| {
            if source.is_timeout() {
                ClientError::Timeout {
                    path: path.to_owned(),
                }
            } else {
                let source = source.without_url();
                let mut detail = source.to_string();
                let mut cause = std::error::Error::source(&source);
                while let Some(inner) = cause {
                    detail.push_str(": ");
                    detail.push_str(&inner.to_string());
                    cause = inner.source();
                }
                ClientError::Request {
                    path: path.to_owned(),
                    detail,
                }
            }
        };
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        let text = response.text().await.map_err(failed)?;
        if !status.is_success() {
            let body = excerpt(&text);
            return Err(match status {
                StatusCode::UNAUTHORIZED => ClientError::Unauthorized { body },
                StatusCode::FORBIDDEN => ClientError::Forbidden {
                    oms_id: self.oms_id.clone(),
                    body,
                },
                status => ClientError::Status {
                    method,
                    path: path.to_owned(),
                    status,
                    body,
                },
            });
        }
        serde_json::from_str(&text).map_err(|e| ClientError::Shape {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    }
}

/// The start of `body` on one line: its `error` when it is the API's error
/// document.
fn excerpt(body: &str) -> String {
    let text = match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(object)) => match object.get("error") {
            Some(Value::String(error)) => error.clone(),
            Some(other) => other.to_string(),
            None => body.to_owned(),
        },
        _ => body.to_owned(),
    };
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(EXCERPT) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_is_the_oms_under_api_v1() {
        for url in ["https://mp.example.org", "https://mp.example.org/"] {
            let client = Client::new(url, "7", "t").unwrap();
            assert_eq!(client.base.as_str(), "https://mp.example.org/api/v1/oms/7/");
        }
        let client = Client::new("http://127.0.0.1:9/market", "7", "t").unwrap();
        assert_eq!(
            client.base.join("events").unwrap().as_str(),
            "http://127.0.0.1:9/market/api/v1/oms/7/events"
        );
        for url in [
            "https://mp.example.org/api/v1",
            "https://mp.example.org/api/v1/",
        ] {
            let client = Client::new(url, "7", "t").unwrap();
            assert_eq!(client.base.as_str(), "https://mp.example.org/api/v1/oms/7/");
        }
        assert!(Client::new("ftp://x", "7", "t").is_err());
        assert!(Client::new("not a url", "7", "t").is_err());
        assert!(matches!(
            Client::new("https://x", "7", "bad\ntoken"),
            Err(ClientError::BadToken)
        ));
    }

    #[test]
    fn errors_quote_the_api_error_text() {
        assert_eq!(
            excerpt(r#"{"error": "You are not authorized to perform this action."}"#),
            "You are not authorized to perform this action."
        );
        assert_eq!(excerpt("plain\n text"), "plain text");
    }

    #[test]
    fn offer_properties_read_as_labels_and_text() {
        let item: ProjectItem = serde_json::from_value(json!({
            "id": 1, "project_id": 2, "status": {"value": "new", "type": "created"},
            "attributes": {"offer_properties": [
                {"id": "c", "label": "Number of CPU Cores", "value": 4, "type": "input"},
                {"label": "Access type", "value": "opportunistic"},
                {"label": "Comment", "value": null},
                {"value": "no label"}
            ]}
        }))
        .unwrap();
        assert_eq!(
            item.offer_properties(),
            [
                ("Number of CPU Cores".to_owned(), "4".to_owned()),
                ("Access type".to_owned(), "opportunistic".to_owned()),
                ("Comment".to_owned(), String::new()),
            ]
        );
    }
}
