//! The one error type of the HTTP API, rendered as RFC 9457 problem+json.
//!
//! Each variant's doc names its status. Internal errors answer an opaque 500; their
//! cause travels in a response extension to the logging middleware
//! ([`super::log_internal_errors`]) so it is logged once, with the request's span.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pactum_events::order::OrderStatus;
use serde_json::{Value, json};

use crate::agreements::errors::AgreementError;
use crate::orders::errors::OrderError;
use crate::orders::service::ServiceError;
use crate::runner::RunError;
use crate::store::{AppendError, StoreError};
use crate::validation::FieldError;

/// Base of every problem `type` URI. These URIs are part of the API contract.
pub const PROBLEM_BASE: &str = "https://pactum.dev/problems/";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not well-formed JSON (or not UTF-8 text).
    #[error("{0}")]
    Malformed(String),
    /// 400: a query parameter or header is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no bearer token, or one that is unknown, expired or revoked.
    #[error("a valid bearer token is required")]
    Unauthenticated,
    /// 403: the caller may see the resource but not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource, or the caller may not see it.
    #[error("{0}")]
    NotFound(String),
    /// 405
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 408: the request body did not arrive in time.
    #[error("the request body did not arrive within {0:?}")]
    RequestTimeout(std::time::Duration),
    /// 409: the command does not fit the order's current state.
    #[error("{detail}")]
    InvalidState {
        detail: String,
        current_status: OrderStatus,
    },
    /// 409: another command won the race for the same aggregate.
    #[error("{0}")]
    Conflict(String),
    /// 412: `If-Match` names a version that is not the current one.
    #[error("the resource is at version {current_version}")]
    PreconditionFailed { current_version: u64 },
    /// 413: the body is larger than the limit.
    #[error("the request body exceeds {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 414: the request target is longer than the limit.
    #[error("{0}")]
    UriTooLong(String),
    /// 422: well-formed but invalid; lists every bad field.
    #[error("{}", summary(.0))]
    Validation(Vec<FieldError>),
    /// 409: a retry of `POST /v1/tokens` under the same `Idempotency-Key`:
    /// the token was issued, its secret shown once and not kept.
    #[error("{detail}")]
    TokenAlreadyIssued { detail: String, token_id: String },
    /// 422: an idempotency key reused for a different request.
    #[error("{0}")]
    IdempotencyKeyReused(String),
    /// 429: the caller holds as many of something (event streams) as it may.
    #[error("{0}")]
    TooManyRequests(String),
    /// 431: too many request headers, or too many bytes of them.
    #[error("{0}")]
    HeadersTooLarge(String),
    /// Any other 4xx or 5xx status met outside our handlers (a framework's
    /// rejection); the `type` is derived from the status's reason phrase.
    #[error("{detail}")]
    Status { status: StatusCode, detail: String },
    /// 503: the database cannot be reached right now (connection lost, pool
    /// exhausted, timed out); retry later. The cause is logged, never returned.
    #[error("the database is unavailable right now; retry shortly")]
    DatabaseUnavailable(String),
    /// 503: the store cannot take writes right now; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; details are logged, not returned.
    #[error("internal error: {0}")]
    Internal(String),
}

fn summary(errors: &[FieldError]) -> String {
    let fields = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    format!("{} invalid field(s): {fields}", errors.len())
}

/// The cause of a 500 (with the id its answer carries) or of a 503 for a
/// database out of reach, for the logging middleware: logged once, never sent.
#[derive(Clone, Debug)]
pub struct InternalErrorReport {
    pub cause: Arc<String>,
    pub error_id: Option<String>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Malformed(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Status { status, .. } => *status,
            Self::InvalidState { .. } | Self::Conflict(_) | Self::TokenAlreadyIssued { .. } => {
                StatusCode::CONFLICT
            }
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Validation(_) | Self::IdempotencyKeyReused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) | Self::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem's `type` slug and title. The slugs are part of the API contract.
    fn slug_and_title(&self) -> (String, String) {
        let (slug, title) = match self {
            Self::Malformed(_) => ("malformed-body", "Malformed request body"),
            Self::BadRequest(_) => ("bad-request", "Bad request"),
            Self::Unauthenticated => ("unauthenticated", "Authentication required"),
            Self::Forbidden(_) => ("forbidden", "Not allowed"),
            Self::NotFound(_) => ("not-found", "Not found"),
            Self::MethodNotAllowed => ("method-not-allowed", "Method not allowed"),
            Self::RequestTimeout(_) => ("request-timeout", "Request timeout"),
            Self::UriTooLong(_) => ("uri-too-long", "Request target too long"),
            Self::HeadersTooLarge(_) => ("headers-too-large", "Request headers too large"),
            Self::Status { status, .. } => {
                let reason = status.canonical_reason().unwrap_or("Error");
                return (
                    reason.to_lowercase().replace([' ', '\''], "-"),
                    reason.to_owned(),
                );
            }
            Self::InvalidState { .. } => ("invalid-state", "Not possible in the current state"),
            Self::Conflict(_) => ("conflict", "Concurrent modification"),
            Self::TokenAlreadyIssued { .. } => ("token-already-issued", "Token already issued"),
            Self::PreconditionFailed { .. } => ("precondition-failed", "Version mismatch"),
            Self::PayloadTooLarge { .. } => ("payload-too-large", "Request body too large"),
            Self::Validation(_) => ("validation", "Invalid request"),
            Self::IdempotencyKeyReused(_) => ("idempotency-key-reused", "Idempotency key reused"),
            Self::Unavailable(_) | Self::DatabaseUnavailable(_) => {
                ("unavailable", "Service unavailable")
            }
            Self::TooManyRequests(_) => ("too-many-requests", "Too many requests"),
            Self::Internal(_) => ("internal", "Internal server error"),
        };
        (slug.to_owned(), title.to_owned())
    }

    /// The problem+json document of this error (RFC 9457).
    pub fn problem(&self) -> Value {
        let status = self.status();
        let (slug, title) = self.slug_and_title();
        let detail = match self {
            Self::Internal(_) => "an unexpected error occurred; it has been logged".to_owned(),
            other => other.to_string(),
        };
        let mut body = json!({
            "type": format!("{PROBLEM_BASE}{slug}"),
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
        });
        match self {
            Self::Validation(errors) => body["errors"] = json!(errors),
            Self::InvalidState { current_status, .. } => {
                body["current_status"] = json!(current_status)
            }
            Self::PreconditionFailed { current_version } => {
                body["current_version"] = json!(current_version)
            }
            Self::TokenAlreadyIssued { token_id, .. } => body["token_id"] = json!(token_id),
            _ => {}
        }
        body
    }

    /// An error for a status met outside our handlers, with the variant of that
    /// status where there is one.
    pub fn from_status(status: StatusCode, detail: String) -> Self {
        match status {
            StatusCode::BAD_REQUEST => Self::BadRequest(detail),
            StatusCode::NOT_FOUND => Self::NotFound(detail),
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::URI_TOO_LONG => Self::UriTooLong(detail),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => Self::HeadersTooLarge(detail),
            status => Self::Status { status, detail },
        }
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = self.problem();
        // A 500 carries an id that its logged cause carries too, so a report
        // from a user finds the log line.
        let body_error_id = matches!(self, Self::Internal(_)).then(|| {
            let id = uuid::Uuid::now_v7().to_string();
            body["error_id"] = json!(id);
            id
        });
        let mut response = (status, problem_json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::Unauthenticated => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"pactum\""),
                );
            }
            Self::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::DatabaseUnavailable(cause) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response.extensions_mut().insert(InternalErrorReport {
                    cause: Arc::new(cause.clone()),
                    error_id: None,
                });
            }
            Self::TooManyRequests(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Self::Internal(cause) => {
                let error_id = body_error_id.clone();
                response.extensions_mut().insert(InternalErrorReport {
                    cause: Arc::new(cause.clone()),
                    error_id,
                });
            }
            _ => {}
        }
        response
    }
}

fn problem_json(body: Value) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        )],
        body.to_string(),
    )
}

/// 403 unless `principal` has `capability` (`access::policy::may_do`).
pub fn require(
    principal: &crate::access::Principal,
    capability: crate::access::policy::Capability,
) -> Result<(), ApiError> {
    if crate::access::policy::may_do(principal, capability) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "only {} may do this",
            capability.holders()
        )))
    }
}

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        let detail = error.to_string();
        match error {
            OrderError::InvalidState { status, .. }
            | OrderError::ProposalOpen { status, .. }
            | OrderError::ProposalClosed { status, .. }
            | OrderError::StepState { status, .. }
            | OrderError::StepsNotDone { status, .. } => Self::InvalidState {
                detail,
                current_status: status,
            },
            OrderError::NotFound => Self::NotFound("order not found".into()),
            OrderError::NoSuchProposal { .. } | OrderError::NoSuchStep { .. } => {
                Self::NotFound(detail)
            }
            OrderError::Forbidden { .. }
            | OrderError::OwnProposal
            | OrderError::NotYourStep { .. }
            | OrderError::NotYourProvider { .. } => Self::Forbidden(detail),
            OrderError::NoProviderNamed
            | OrderError::NotAProviderOfThisOrder { .. }
            | OrderError::ProviderOnlyForProviderMessages => {
                Self::Validation(vec![FieldError::new("provider", detail)])
            }
            OrderError::AlreadyExists => Self::Conflict(detail),
            OrderError::AssigneeNotInGroup { .. } => {
                Self::Validation(vec![FieldError::new("assignee", detail)])
            }
            OrderError::NothingChanged => {
                Self::Validation(vec![FieldError::new("parameters", detail)])
            }
            OrderError::EmptyPlan => Self::Validation(vec![FieldError::new("steps", detail)]),
        }
    }
}

impl From<AgreementError> for ApiError {
    fn from(error: AgreementError) -> Self {
        let detail = error.to_string();
        match error {
            AgreementError::NotFound => Self::NotFound("agreement not found".into()),
            AgreementError::Forbidden { .. } => Self::Forbidden(detail),
            AgreementError::AlreadyIssued | AgreementError::NotActive { .. } => {
                Self::Conflict(detail)
            }
            AgreementError::EndNotLater { .. } => {
                Self::Validation(vec![FieldError::new("end", detail)])
            }
            AgreementError::NothingToAmend => {
                Self::Validation(vec![FieldError::new("targets", detail)])
            }
            AgreementError::NotYetEnded { .. } => Self::Conflict(detail),
        }
    }
}

impl From<AppendError> for ApiError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Conflict { .. } => {
                Self::Conflict("another command changed this first; reload and retry".into())
            }
            AppendError::IdempotencyKeyReused { .. } => {
                Self::IdempotencyKeyReused(error.to_string())
            }
            AppendError::Storage(cause) if !crate::store::is_unavailable(&cause) => {
                Self::internal(format!("event store: {cause}"))
            }
            AppendError::Storage(_) | AppendError::Closed => {
                Self::DatabaseUnavailable(error.to_string())
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Database(cause) => cause.into(),
            StoreError::Direct(cause) if crate::store::direct::is_busy(&cause) => {
                Self::DatabaseUnavailable(cause.to_string())
            }
            other => Self::internal(other),
        }
    }
}

impl From<crate::projector::listing::ListError> for ApiError {
    fn from(error: crate::projector::listing::ListError) -> Self {
        use crate::projector::listing::ListError;
        match error {
            ListError::CursorMismatch => Self::BadRequest(error.to_string()),
            ListError::Store(e) => e.into(),
            ListError::Row(e) => Self::internal(e),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    /// Only connection loss, an exhausted pool and timeouts are 503; any other
    /// database error is a 500. Either way the database's text is only logged.
    fn from(error: sqlx::Error) -> Self {
        if crate::store::is_unavailable(&error) {
            Self::DatabaseUnavailable(error.to_string())
        } else {
            Self::internal(format!("database: {error}"))
        }
    }
}

impl From<crate::agreements::list::AgreementListError> for ApiError {
    fn from(error: crate::agreements::list::AgreementListError) -> Self {
        use crate::agreements::list::AgreementListError;
        match error {
            AgreementListError::NotReady => Self::Unavailable(error.to_string()),
            AgreementListError::List(e) => e.into(),
        }
    }
}

impl From<crate::orders::queue::QueueError> for ApiError {
    fn from(error: crate::orders::queue::QueueError) -> Self {
        use crate::orders::queue::QueueError;
        match error {
            QueueError::Forbidden => Self::Forbidden(error.to_string()),
            QueueError::NotReady => Self::Unavailable(error.to_string()),
            QueueError::List(e) => e.into(),
            QueueError::Store(e) => e.into(),
        }
    }
}

impl From<crate::reports::ReportError> for ApiError {
    fn from(error: crate::reports::ReportError) -> Self {
        use crate::reports::ReportError;
        match error {
            ReportError::Forbidden => Self::Forbidden(error.to_string()),
            ReportError::NotReady => Self::Unavailable(error.to_string()),
            ReportError::Database(e) => e.into(),
            ReportError::Row(_) => Self::Internal(error.to_string()),
        }
    }
}

/// A refused clock move and the field that asked for it (`now` or `advance`).
impl From<(&'static str, crate::clock::MoveError)> for ApiError {
    fn from((field, error): (&'static str, crate::clock::MoveError)) -> Self {
        use crate::clock::MoveError;
        match error {
            MoveError::Backwards { .. } => Self::Conflict(error.to_string()),
            MoveError::OutOfRange => {
                Self::Validation(vec![FieldError::new(field, error.to_string())])
            }
        }
    }
}

impl From<RunError> for ApiError {
    fn from(error: RunError) -> Self {
        match error {
            RunError::PreconditionFailed { current, .. } => Self::PreconditionFailed {
                current_version: current,
            },
            RunError::Conflict { .. } => Self::Conflict(error.to_string()),
            RunError::Append(e) => e.into(),
            RunError::Store(e) => e.into(),
        }
    }
}

impl From<crate::notify::PreferencesServiceError> for ApiError {
    fn from(error: crate::notify::PreferencesServiceError) -> Self {
        use crate::notify::PreferencesServiceError;
        match error {
            PreferencesServiceError::Invalid(errors) => Self::Validation(errors),
            PreferencesServiceError::Refused(e) => Self::Forbidden(e.to_string()),
            PreferencesServiceError::Store(e) => e.into(),
            PreferencesServiceError::Run(e) => e.into(),
        }
    }
}

impl From<crate::access::errors::AccessError> for ApiError {
    fn from(error: crate::access::errors::AccessError) -> Self {
        use crate::access::errors::AccessError;
        let detail = error.to_string();
        match error {
            AccessError::NotAllowed => Self::Forbidden(detail),
            AccessError::NotFound => Self::NotFound("token not found".into()),
            AccessError::AlreadyIssued | AccessError::AlreadyRevoked => Self::Conflict(detail),
        }
    }
}

impl From<crate::access::tokens::IssueError> for ApiError {
    fn from(error: crate::access::tokens::IssueError) -> Self {
        use crate::access::tokens::IssueError;
        match error {
            IssueError::Invalid(errors) => Self::Validation(errors),
            IssueError::Refused(e) => e.into(),
            IssueError::Retried { ref token_id } => Self::TokenAlreadyIssued {
                token_id: token_id.clone(),
                detail: error.to_string(),
            },
            IssueError::Run(e) => e.into(),
            IssueError::Store(e) => e.into(),
        }
    }
}

impl From<crate::handling::DefineError> for ApiError {
    fn from(error: crate::handling::DefineError) -> Self {
        use crate::handling::{DefineError, TargetsError};
        match error {
            DefineError::Invalid(errors) => Self::Validation(errors),
            DefineError::Refused(TargetsError::NotAllowed) => {
                Self::Forbidden("only admins define handling targets".into())
            }
            DefineError::Store(e) => e.into(),
            DefineError::Run(e) => e.into(),
        }
    }
}

impl From<crate::brands::DefineError> for ApiError {
    fn from(error: crate::brands::DefineError) -> Self {
        use crate::brands::{BrandError, DefineError};
        match error {
            DefineError::Invalid(errors) => Self::Validation(errors),
            DefineError::Refused(e @ BrandError::NotAllowed) => Self::Forbidden(e.to_string()),
            DefineError::Refused(e @ BrandError::NoBrand { .. }) => Self::NotFound(e.to_string()),
            DefineError::Store(e) => e.into(),
            DefineError::Run(e) => e.into(),
            DefineError::Interrupted(_) => Self::internal(error),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Order(e) => e.into(),
            ServiceError::Invalid(errors) => Self::Validation(errors),
            ServiceError::NotACustomer => Self::Forbidden(error.to_string()),
            ServiceError::PreconditionFailed { current, .. } => Self::PreconditionFailed {
                current_version: current,
            },
            ServiceError::Conflict { .. } => Self::Conflict(error.to_string()),
            ServiceError::Append(e) => e.into(),
            ServiceError::Store(e) => e.into(),
            ServiceError::Agreement(e) => e.into(),
            ServiceError::Document(e) => Self::internal(e),
            ServiceError::NoSuchVersion { .. } => Self::NotFound(error.to_string()),
        }
    }
}

impl From<crate::catalogue::ChangeError> for ApiError {
    fn from(error: crate::catalogue::ChangeError) -> Self {
        use crate::catalogue::ChangeError;
        use crate::catalogue::errors::CatalogueError;
        match error {
            ChangeError::Store(e) => e.into(),
            ChangeError::Run(e) => e.into(),
            ChangeError::Refused(refusal) => {
                let detail = refusal.to_string();
                match refusal {
                    CatalogueError::NotAllowed => Self::Forbidden(detail),
                    CatalogueError::Invalid { field, reason } => {
                        Self::Validation(vec![FieldError::new(field, reason)])
                    }
                    CatalogueError::NotFound { .. } => Self::NotFound(detail),
                    CatalogueError::VersionMismatch { current, .. } => Self::PreconditionFailed {
                        current_version: u64::from(current),
                    },
                    CatalogueError::AlreadySeeded
                    | CatalogueError::Retired { .. }
                    | CatalogueError::GroupChange { .. }
                    | CatalogueError::GroupInUse { .. } => Self::Conflict(detail),
                }
            }
        }
    }
}

impl From<crate::members::MembersError> for ApiError {
    fn from(error: crate::members::MembersError) -> Self {
        use crate::members::MembersError;
        use crate::members::errors::MembershipError;
        let detail = error.to_string();
        match error {
            MembersError::Invalid(errors) => Self::Validation(errors),
            MembersError::UnknownScope { .. } => Self::NotFound(detail),
            MembersError::RetiredScope { .. } => Self::Conflict(detail),
            MembersError::Refused(MembershipError::NotAllowed) => Self::Forbidden(detail),
            MembersError::Refused(MembershipError::NotAMember { .. }) => Self::NotFound(detail),
            MembersError::Run(e) => e.into(),
            MembersError::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod database_error_tests {
    use super::*;

    async fn answer(error: ApiError) -> (StatusCode, Option<String>, Value) {
        let response = error.into_response();
        let status = response.status();
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .unwrap();
        (status, retry, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn only_an_unreachable_database_is_503_and_its_text_never_reaches_the_client() {
        let secret = "relation \"secret_table\" does not exist";
        let unreachable = [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::other(secret)),
        ];
        for error in unreachable {
            let (status, retry, body) = answer(error.into()).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(retry.as_deref(), Some("1"));
            assert!(!body.to_string().contains("secret"), "{body}");
            assert_eq!(body["error_id"], Value::Null);
        }
        let broken = [
            sqlx::Error::RowNotFound,
            sqlx::Error::Protocol(secret.into()),
            sqlx::Error::ColumnNotFound(secret.into()),
        ];
        for error in broken {
            let (status, retry, body) = answer(error.into()).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(retry, None);
            assert!(!body.to_string().contains("secret"), "{body}");
            assert!(
                body["error_id"].as_str().is_some_and(|id| id.len() == 36),
                "{body}"
            );
        }
        // Through the event store's append: the same split.
        let (status, _, body) =
            answer(AppendError::Storage(Arc::new(sqlx::Error::Protocol(secret.into()))).into())
                .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.to_string().contains("secret"), "{body}");
        let (status, _, _) =
            answer(AppendError::Storage(Arc::new(sqlx::Error::PoolTimedOut)).into()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let (status, _, _) = answer(AppendError::Closed.into()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
}
