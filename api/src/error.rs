//! The API's error answer: `{ "error": { "code", "message", "field"? } }` with
//! the right status. Internal errors are logged with their context and
//! answered with a generic message (no SQL, no stack).

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
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None, offset: None }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
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

    /// Logs `e` with `context` and answers 500 without details.
    pub fn internal(context: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "{context}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log")
    }
}

impl From<bt_queue::StoreError> for ApiError {
    fn from(e: bt_queue::StoreError) -> Self {
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
        (self.status, Json(serde_json::json!({ "error": err }))).into_response()
    }
}
