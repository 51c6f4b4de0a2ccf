//! `POST /v1/embeddings`, compatible with OpenAI's embeddings API: `input` as a string, an array
//! of strings, an array of token ids or an array of such arrays; `model`; `encoding_format`
//! `float` (default) or `base64` (little-endian f32, as OpenAI's clients decode it);
//! `dimensions` (the first N values, re-normalised); `user` accepted and ignored. The answer is
//! `{"object": "list", "data": [{"object": "embedding", "index", "embedding"}], "model",
//! "usage": {"prompt_tokens", "total_tokens"}}`; errors are OpenAI's shape with 4xx codes.
//!
//! Models: static sentence models (model2vec folders), encoded as model2vec does;
//! sentence-transformers folders with a transformer encoder (text only: the whole forward,
//! pooling and normalisation, as `embers encode` does; run on the heavy-work threads); and
//! embedding models (word vectors), whose texts are the mean of their known tokens' vectors
//! (token ids index their rows). Limits: `--max-batch` inputs per request,
//! `--max-input-tokens` tokens per input (a transformer's count includes its special tokens).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use embers::sentence::{normalize_in_place, Pooler, Pooling};
use embers::text::WordTokenizer;
use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::Shared;

/// One input: text, or token ids.
enum Input {
    Text(String),
    Ids(Vec<u32>),
}

fn invalid(param: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message).with_param(param)
}

fn token_ids(v: &[Value], what: &str) -> Result<Vec<u32>, ApiError> {
    v.iter()
        .map(|x| {
            x.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    invalid(
                        "input",
                        format!("{what}: {x} is not a token id (a non-negative integer)"),
                    )
                })
        })
        .collect()
}

/// Reads `input` in any of OpenAI's four forms.
fn parse_input(v: &Value) -> Result<Vec<Input>, ApiError> {
    match v {
        Value::String(s) => Ok(vec![Input::Text(s.clone())]),
        Value::Array(items) if items.is_empty() => Err(invalid(
            "input",
            "`input` is an empty array: give at least one input",
        )),
        Value::Array(items) => match &items[0] {
            Value::String(_) => items
                .iter()
                .enumerate()
                .map(|(i, x)| match x {
                    Value::String(s) => Ok(Input::Text(s.clone())),
                    _ => Err(invalid(
                        "input",
                        format!("input[{i}] is not a string (an array of strings must hold only strings)"),
                    )),
                })
                .collect(),
            Value::Number(_) => Ok(vec![Input::Ids(token_ids(items, "input")?)]),
            Value::Array(_) => items
                .iter()
                .enumerate()
                .map(|(i, x)| match x {
                    Value::Array(ids) => Ok(Input::Ids(token_ids(ids, &format!("input[{i}]"))?)),
                    _ => Err(invalid(
                        "input",
                        format!("input[{i}] is not an array of token ids"),
                    )),
                })
                .collect(),
            _ => Err(invalid(
                "input",
                "`input` must be a string, an array of strings, an array of token ids, or an array of arrays of token ids",
            )),
        },
        Value::Null => Err(invalid("input", "`input` is missing")),
        _ => Err(invalid(
            "input",
            "`input` must be a string, an array of strings, an array of token ids, or an array of arrays of token ids",
        )),
    }
}

#[derive(Serialize)]
pub struct EmbeddingItem {
    object: &'static str,
    index: usize,
    embedding: Value,
}

#[derive(Serialize)]
pub struct Usage {
    prompt_tokens: usize,
    total_tokens: usize,
}

#[derive(Serialize)]
pub struct EmbeddingsResponse {
    object: &'static str,
    data: Vec<EmbeddingItem>,
    model: String,
    usage: Usage,
}

impl EmbeddingsResponse {
    /// OpenAI's list answer for the vectors `data` of model `model`, which read `tokens` tokens.
    fn new(data: Vec<EmbeddingItem>, model: String, tokens: usize) -> Self {
        EmbeddingsResponse {
            object: "list",
            data,
            model,
            usage: Usage {
                prompt_tokens: tokens,
                total_tokens: tokens,
            },
        }
    }
}

/// Standard base64 (RFC 4648, with padding) of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What `/v1/embeddings` encodes with.
enum Encoder {
    Static(Arc<crate::registry::Sentence>),
    Transformer(Arc<crate::registry::SentenceEncoder>),
    Words(Arc<crate::registry::Model>),
}

/// `POST /v1/embeddings`.
pub async fn embeddings(
    State(state): State<Shared>,
    JsonBody(req): JsonBody<Value>,
) -> Result<Json<EmbeddingsResponse>, ApiError> {
    let Some(obj) = req.as_object() else {
        return Err(invalid("input", "the body must be a JSON object"));
    };
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "input" | "model" | "encoding_format" | "dimensions" | "user"
        ) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "unknown_parameter",
                format!("unknown parameter `{key}` (accepted: input, model, encoding_format, dimensions, user)"),
            )
            .with_param("body"));
        }
    }
    let name = match obj.get("model") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => return Err(invalid("model", "`model` is missing")),
        Some(_) => return Err(invalid("model", "`model` must be a string")),
    };
    let base64_out = match obj.get("encoding_format") {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if s == "float" => false,
        Some(Value::String(s)) if s == "base64" => true,
        Some(other) => {
            return Err(invalid(
                "encoding_format",
                format!("`encoding_format` must be \"float\" or \"base64\", got {other}"),
            ))
        }
    };
    let inputs = parse_input(obj.get("input").unwrap_or(&Value::Null))?;
    let limits = state.limits;
    if inputs.len() > limits.max_batch {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "too_many_inputs",
            format!(
                "{} inputs in one request; at most {} (--max-batch)",
                inputs.len(),
                limits.max_batch
            ),
        )
        .with_param("input"));
    }
    let encoder = if let Some(s) = state.registry.sentence(&name) {
        Encoder::Static(s.clone())
    } else if let Some(t) = state.registry.sentence_transformer(&name) {
        Encoder::Transformer(t.clone())
    } else if let Some(m) = state.registry.model(&name) {
        Encoder::Words(m.clone())
    } else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "model_not_found",
            format!(
                "the model `{name}` does not exist or cannot embed text; GET /v1/models lists them"
            ),
        )
        .with_param("model"));
    };
    let dims = match &encoder {
        Encoder::Static(s) => s.model.dims(),
        Encoder::Transformer(t) => t.model.dims(),
        Encoder::Words(m) => m.embeddings.dims(),
    };
    let dimensions = match obj.get("dimensions") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 && n as usize <= dims => Some(n as usize),
            _ => {
                return Err(invalid(
                    "dimensions",
                    format!(
                        "`dimensions` must be an integer from 1 to {dims} for `{name}`, got {v}"
                    ),
                ))
            }
        },
    };
    for (i, input) in inputs.iter().enumerate() {
        if let Input::Ids(ids) = input {
            if matches!(encoder, Encoder::Transformer(_)) {
                return Err(invalid(
                    "input",
                    format!(
                        "input[{i}]: `{name}` is a transformer model and takes text; give strings, not token ids"
                    ),
                ));
            }
            if ids.len() > limits.max_input_tokens {
                return Err(too_long(i, ids.len(), limits.max_input_tokens));
            }
        }
    }
    if let Encoder::Transformer(t) = &encoder {
        let t = t.clone();
        let max_tokens = limits.max_input_tokens;
        let answer = state
            .heavy
            .run(limits.timeout, move |deadline| {
                transformer_answer(
                    &t, inputs, max_tokens, dimensions, base64_out, name, deadline,
                )
            })
            .await?;
        return Ok(Json(answer));
    }

    // Small requests are answered on the async worker; big ones off it.
    let work = inputs
        .iter()
        .map(|i| match i {
            Input::Text(s) => s.len(),
            Input::Ids(ids) => ids.len() * 4,
        })
        .sum::<usize>();
    let max_tokens = limits.max_input_tokens;
    let run = move || -> Result<EmbeddingsResponse, ApiError> {
        let mut data = Vec::with_capacity(inputs.len());
        let mut tokens = 0usize;
        let mut v = vec![0f32; dims];
        let pooler = match &encoder {
            Encoder::Words(m) => Some(Pooler::new(
                &m.embeddings,
                WordTokenizer::default(),
                Pooling::Mean,
            )?),
            Encoder::Static(_) | Encoder::Transformer(_) => None,
        };
        for (index, input) in inputs.iter().enumerate() {
            match (&encoder, input) {
                (Encoder::Static(s), Input::Text(t)) => {
                    let ids = s.model.tokenize(t)?;
                    if ids.len() > max_tokens {
                        return Err(too_long(index, ids.len(), max_tokens));
                    }
                    tokens += ids.len();
                    s.model.embed_ids(&ids, &mut v)?;
                }
                (Encoder::Static(s), Input::Ids(ids)) => {
                    tokens += ids.len();
                    s.model
                        .embed_ids(ids, &mut v)
                        .map_err(|e| invalid("input", format!("input[{index}]: {e}")))?;
                }
                (Encoder::Transformer(_), _) => {
                    unreachable!("transformer models are answered by transformer_answer")
                }
                (Encoder::Words(_), Input::Text(t)) => {
                    let mut n = 0usize;
                    WordTokenizer::default().for_each_token(t, |_| n += 1);
                    if n > max_tokens {
                        return Err(too_long(index, n, max_tokens));
                    }
                    tokens += n;
                    v = pooler
                        .as_ref()
                        .expect("word models have a pooler")
                        .encode_one(t);
                }
                (Encoder::Words(m), Input::Ids(ids)) => {
                    let emb = &m.embeddings;
                    v.fill(0.0);
                    let mut row = vec![0f32; dims];
                    for &id in ids {
                        if id as usize >= emb.len() {
                            return Err(invalid(
                                "input",
                                format!(
                                    "input[{index}]: token id {id} is outside the {} rows of `{}`",
                                    emb.len(),
                                    m.name
                                ),
                            ));
                        }
                        emb.storage().row_into(id as usize, &mut row);
                        for (a, &b) in v.iter_mut().zip(&row) {
                            *a += b;
                        }
                    }
                    if !ids.is_empty() {
                        let inv = 1.0 / ids.len() as f32;
                        v.iter_mut().for_each(|a| *a *= inv);
                    }
                    tokens += ids.len();
                }
            }
            data.push(item(index, &v, dimensions, base64_out)?);
        }
        Ok(EmbeddingsResponse::new(data, name, tokens))
    };
    let answer = if work <= 16 * 1024 {
        run()?
    } else {
        tokio::task::spawn_blocking(run)
            .await
            .map_err(|e| ApiError::internal(format!("the request's worker failed: {e}")))??
    };
    Ok(Json(answer))
}

/// One answer item: `v` cut to `dimensions` (and re-normalised), as floats or base64.
fn item(
    index: usize,
    v: &[f32],
    dimensions: Option<usize>,
    base64_out: bool,
) -> Result<EmbeddingItem, ApiError> {
    let out = match dimensions {
        Some(d) => {
            let mut cut = v[..d].to_vec();
            normalize_in_place(&mut cut);
            cut
        }
        None => v.to_vec(),
    };
    let embedding = if base64_out {
        let mut bytes = Vec::with_capacity(out.len() * 4);
        for x in &out {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        Value::String(base64(&bytes))
    } else {
        serde_json::to_value(&out).map_err(|e| ApiError::internal(e.to_string()))?
    };
    Ok(EmbeddingItem {
        object: "embedding",
        index,
        embedding,
    })
}

/// The answer for texts encoded by a sentence-transformers encoder (on a heavy-work thread):
/// every text tokenized and checked against the per-input limit, then one batched forward
/// (sorted by length inside), checked against the deadline before and after.
fn transformer_answer(
    t: &crate::registry::SentenceEncoder,
    inputs: Vec<Input>,
    max_tokens: usize,
    dimensions: Option<usize>,
    base64_out: bool,
    name: String,
    deadline: &crate::heavy::Deadline,
) -> Result<EmbeddingsResponse, ApiError> {
    let mut encodings = Vec::with_capacity(inputs.len());
    let mut tokens = 0usize;
    for (index, input) in inputs.iter().enumerate() {
        let Input::Text(text) = input else {
            return Err(invalid(
                "input",
                format!("input[{index}]: `{name}` is a transformer model and takes text"),
            ));
        };
        let enc = t.model.tokenize(text)?;
        if enc.len() > max_tokens {
            return Err(too_long(index, enc.len(), max_tokens));
        }
        tokens += enc.len();
        encodings.push(enc);
    }
    deadline.check()?;
    let vectors = t.model.encode_tokenized(&encodings)?;
    deadline.check()?;
    let data = (0..vectors.rows())
        .map(|i| item(i, vectors.row(i), dimensions, base64_out))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(EmbeddingsResponse::new(data, name, tokens))
}

fn too_long(index: usize, n: usize, max: usize) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "input_too_long",
        format!("input[{index}] has {n} tokens; at most {max} per input (--max-input-tokens)"),
    )
    .with_param("input")
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(plain.as_bytes()), encoded);
        }
    }
}
