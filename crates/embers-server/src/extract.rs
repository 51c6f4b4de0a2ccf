//! Request extractors whose failures are structured API errors: a JSON body (malformed JSON is
//! 400, wrong types 422, too large 413, wrong content type 415) and a model path parameter.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::error::ApiError;

/// A JSON request body of type `T`. The body is first checked to be JSON at all (else 400
/// `malformed_json`), then read as `T` (else 422 `invalid_request`), so a truncated body is
/// never reported as a type error.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(
                    "body_too_large",
                    "the request body is larger than the server accepts (--max-body)",
                )
            } else {
                ApiError::new(e.status(), "bad_body", e.body_text())
            }
        })?;
        if let Err(e) = serde_json::from_slice::<IgnoredAny>(&bytes) {
            return Err(ApiError::bad_request(
                "malformed_json",
                format!("the body is not valid JSON: {e}"),
            ));
        }
        serde_json::from_slice::<T>(&bytes)
            .map(JsonBody)
            .map_err(|e| {
                ApiError::unprocessable("invalid_request", format!("bad request body: {e}"))
            })
    }
}

/// True when the content type is `application/json` or some `application/…+json`.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The `{model}` segment of a route.
#[derive(Debug)]
pub struct ModelName(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ModelName {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(name)) => Ok(ModelName(name)),
            Err(e) => Err(ApiError::bad_request("bad_path", e.body_text())),
        }
    }
}
