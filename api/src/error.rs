//! The API's error answer: `{ "error": { "code", "message", "field"?,
//! "request_id"?, ... } }` with the right status. Internal errors are logged
//! with their context and the request id and answered with a generic message
//! and that id (no SQL, no path, no stack).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// For an error in a strategy rule: the byte offset in the rule.
    pub offset: Option<usize>,
    /// Seconds for a `Retry-After` header (429, 503).
    pub retry_after: Option<u64>,
    /// For a 429: the limit that was reached and its numbers (boxed: most
    /// errors have none, and every `Result` of the API carries the size).
    pub limit: Option<Box<Limit>>,
}

/// A limit a request ran into: its name (`max_active_bundles`, `rate_limit`,
/// ...), what it allows, and what is in use when that is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub name: &'static str,
    pub allowed: i64,
    pub used: Option<i64>,
}

/// Seconds a client over one of its owner's quotas is asked to wait: bundles
/// and jobs end on their own time, so this is a polling interval, not a promise.
pub const QUOTA_RETRY_SECONDS: u64 = 30;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            offset: None,
            retry_after: None,
            limit: None,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Adds a `Retry-After: secs` header to the answer.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_spec", message).field(field)
    }

    /// An invalid spec, with the offset in the rule when the error is in one.
    pub fn spec(e: bt_engine::bundle::SpecError) -> Self {
        let mut a = Self::invalid(e.field, e.message);
        a.offset = e.offset;
        a
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// Logs `e` with `context` (and the request id) and answers 500 with
    /// only the request id.
    pub fn internal(context: &str, e: impl std::fmt::Display) -> Self {
        let request_id = crate::request_id::current().unwrap_or_default();
        tracing::error!(error = %e, request_id = %request_id, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the server log has the details under this request_id",
        )
    }

    /// 429: a submission over one of the owner's quotas.
    pub fn quota(e: bt_queue::QuotaExceeded) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "quota_exceeded",
            format!(
                "{}: this key allows {}; {} in use, and this bundle would add {}",
                e.limit, e.allowed, e.used, e.adding
            ),
        )
        .retry_after(QUOTA_RETRY_SECONDS)
        .with_limit(e.limit, e.allowed, Some(e.used))
    }

    /// 429: more requests than `per_minute`; the next is allowed in `wait`.
    pub fn rate_limited(name: &'static str, per_minute: u32, wait: std::time::Duration, who: &str) -> Self {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("more than {per_minute} requests per minute {who}; retry in {secs} s"),
        )
        .retry_after(secs)
        .with_limit(name, per_minute.into(), None)
    }

    pub fn with_limit(mut self, name: &'static str, allowed: i64, used: Option<i64>) -> Self {
        self.limit = Some(Box::new(Limit { name, allowed, used }));
        self
    }
}

impl From<bt_queue::StoreError> for ApiError {
    /// A database that is restarting, failing over or out of connections
    /// (`StoreError::is_transient`) is a 503 the client may retry in a
    /// second; anything else a 500. Either way the text stays in the log.
    fn from(e: bt_queue::StoreError) -> Self {
        if e.is_transient() {
            let request_id = crate::request_id::current().unwrap_or_default();
            tracing::warn!(error = %e, request_id = %request_id, "store unavailable");
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the database is unavailable for a moment; retry (the server log has the details under this request_id)",
            )
            .retry_after(1);
        }
        Self::internal("store", e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut err = serde_json::json!({ "code": self.code, "message": self.message });
        if let Some(f) = self.field {
            err["field"] = f.into();
        }
        if let Some(o) = self.offset {
            err["offset"] = o.into();
        }
        if let Some(l) = self.limit {
            err["limit"] = l.name.into();
            err["allowed"] = l.allowed.into();
            if let Some(u) = l.used {
                err["used"] = u.into();
            }
        }
        if let Some(secs) = self.retry_after {
            err["retry_after_seconds"] = secs.into();
        }
        if let Some(id) = crate::request_id::current() {
            err["request_id"] = id.into();
        }
        let mut resp = (self.status, Json(serde_json::json!({ "error": err }))).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transient_store_error_is_a_503_to_retry_and_others_a_500() {
        let cut = ApiError::from(bt_queue::StoreError::Db(sqlx::Error::PoolTimedOut));
        assert_eq!(
            (cut.status, cut.code, cut.retry_after),
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable", Some(1))
        );
        assert!(!cut.message.contains("pool"), "{}", cut.message);
        let bad = ApiError::from(bt_queue::StoreError::NoJobs);
        assert_eq!((bad.status, bad.retry_after), (StatusCode::INTERNAL_SERVER_ERROR, None));
    }
}
