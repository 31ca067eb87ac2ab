//! API errors: a stable `code`, the `field` at fault for bad input, and a message.
//!
//! Every refusal the service gives is an [`ApiError`], answered as
//! `{"code": "...", "message": "...", "field": "..."}` with the matching HTTP status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A refusal, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable code (`invalid_field`, `self_approval`, ...), for programs.
    pub code: &'static str,
    /// The request member at fault (`duration_s`, `reason`, ...), for 400s.
    pub field: Option<String>,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// A refusal with `status`, `code` and `message`, naming no field.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            field: None,
            message: message.into(),
        }
    }

    /// A 400 for `field`.
    pub fn field(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// A 404: no such `what`.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
    }

    /// A 403 with `code`.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// A 409 with `code`.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// A 500 `internal`; the detail goes to the log, never to the client.
    pub fn internal(detail: impl core::fmt::Display) -> Self {
        eprintln!("jitgate-approvals: internal error: {detail}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(format!("database: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"code": self.code, "message": self.message});
        if let (Some(field), Some(obj)) = (&self.field, body.as_object_mut()) {
            obj.insert("field".into(), field.clone().into());
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        response.extensions_mut().insert(ErrorCode(self.code));
        response
    }
}

/// The code of an error response, kept for the metrics layer.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);
