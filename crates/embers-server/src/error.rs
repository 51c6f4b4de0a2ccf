//! The API's one error type: an HTTP status plus a stable machine code and a human message,
//! answered as `{"error": {"code": "...", "message": "..."}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answered to the client. `code` is stable (clients may match on it); `message` is
/// for people and may change.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// Machine-readable code, e.g. `unknown_model`.
    pub code: &'static str,
    /// What went wrong, in a sentence.
    pub message: String,
    /// The request parameter at fault, when one is (OpenAI's `param`).
    pub param: Option<&'static str>,
}

/// The code of an error answer, left in the response's extensions for the metrics layer.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

impl ApiError {
    /// An error with any status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            param: None,
        }
    }

    /// The same error, naming the request parameter at fault.
    pub fn with_param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    /// 400: the body is not JSON, or the request cannot be parsed at all.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422: well-formed JSON whose content is not acceptable (wrong types, empty batch, bad k).
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 413: the body or the batch is larger than the server accepts.
    pub fn too_large(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, code, message)
    }

    /// 404 for a model name the server does not serve.
    pub fn unknown_model(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "unknown_model",
            format!("no model named {name:?} is served; GET /v1/models lists them"),
        )
    }

    /// 500: a failure on the server's side.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl From<embers::Error> for ApiError {
    /// Errors about the request's values (arguments, shapes, tokens) are the client's (422);
    /// file, format and other failures are the server's (500).
    fn from(e: embers::Error) -> Self {
        match e {
            embers::Error::InvalidArgument { .. }
            | embers::Error::Shape { .. }
            | embers::Error::UnknownTokens(_) => {
                ApiError::unprocessable("invalid_request", e.to_string())
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // OpenAI's error shape (`message`, `type`, `param`, `code`), which holds ours.
        let kind = if self.status.is_server_error() {
            "server_error"
        } else {
            "invalid_request_error"
        };
        let body = serde_json::json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "type": kind,
                "param": self.param,
            }
        });
        let mut res = (self.status, Json(body)).into_response();
        res.extensions_mut().insert(ErrorCode(self.code));
        res
    }
}
