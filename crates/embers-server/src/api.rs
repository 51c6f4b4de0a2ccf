//! The JSON handlers under `/v1` (plus `/healthz`): request and answer types, validation
//! against the limits, and the calls into the library.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use embers::query::{self, Neighbor};
use embers::supervised::Scratch;
use embers::{kernels, Embeddings, Source};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::extract::{JsonBody, ModelName};
use crate::heavy::Deadline;
use crate::registry::{ClassifierModel, Model, Transformer};
use crate::Shared;

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Runs `job` on the heavy-work pool when `heavy`, else inline on the async worker (cheap work:
/// vocabulary lookups); either way under the request's time limit.
async fn run<T: Send + 'static>(
    state: &Shared,
    heavy: bool,
    job: impl FnOnce(&Deadline) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    if heavy {
        state.heavy.run(state.limits.timeout, job).await
    } else {
        job(&Deadline::after(state.limits.timeout))
    }
}

/// Refuses (413 `answer_too_large`) an answer of `items` vectors of `dims` values that would
/// exceed `--max-answer` bytes (a JSON float takes at most 16 bytes with its comma).
fn check_answer(state: &Shared, items: usize, dims: usize) -> Result<(), ApiError> {
    let max = state.limits.max_answer;
    let estimate = items.saturating_mul(dims.saturating_mul(16).saturating_add(64));
    if estimate > max {
        return Err(ApiError::too_large(
            "answer_too_large",
            format!(
                "the answer would hold {items} vectors of {dims} values (about {estimate} bytes); \
                 the server answers at most {max} bytes (--max-answer)"
            ),
        ));
    }
    Ok(())
}

/// True when `word`'s vector would be computed from its subwords (not in the vocabulary, and
/// the model has subwords): that costs time in proportion to the word's length, so requests
/// with such words run on the heavy-work pool.
fn needs_subwords(emb: &Embeddings, word: &str) -> bool {
    emb.subwords().is_some() && emb.vocab().id(word).is_none()
}

/// What a lookup found, with the server's bound on words given subword vectors.
enum Found {
    Vector(Vec<f32>, Source),
    Unknown,
    TooLong,
}

fn find(emb: &Embeddings, word: &str, unk: bool, max_word: usize) -> Found {
    if word.len() > max_word && needs_subwords(emb, word) {
        if unk {
            if let Some(id) = emb.vocab().unk_id() {
                return Found::Vector(emb.storage().row_vec(id as usize), Source::Unk(id));
            }
        }
        return Found::TooLong;
    }
    match emb.lookup(word, unk) {
        Some((v, source)) => Found::Vector(v, source),
        None => Found::Unknown,
    }
}

fn model(state: &Shared, name: &str) -> Result<Arc<Model>, ApiError> {
    state
        .registry
        .model(name)
        .cloned()
        .ok_or_else(|| ApiError::unknown_model(name))
}

/// Checks a batch's size: empty is 422 `empty_batch`, above `--max-batch` is 413.
fn check_batch(state: &Shared, len: usize, what: &str) -> Result<(), ApiError> {
    if len == 0 {
        return Err(ApiError::unprocessable(
            "empty_batch",
            format!("`{what}` is empty; send at least one"),
        ));
    }
    let max = state.limits.max_batch;
    if len > max {
        return Err(ApiError::too_large(
            "batch_too_large",
            format!("`{what}` has {len} items; the server accepts at most {max} (--max-batch)"),
        ));
    }
    Ok(())
}

/// Checks `k` against 1..=`--max-k`.
fn check_k(state: &Shared, k: usize) -> Result<(), ApiError> {
    let max = state.limits.max_k;
    if k == 0 || k > max {
        return Err(ApiError::unprocessable(
            "k_out_of_range",
            format!("k = {k} is outside 1..={max} (--max-k)"),
        ));
    }
    Ok(())
}

fn source_name(source: Source) -> (&'static str, Option<u32>) {
    match source {
        Source::Vocab(id) => ("vocab", Some(id)),
        Source::Subwords => ("subwords", None),
        Source::Unk(id) => ("unk", Some(id)),
    }
}

/// A word's vector: its row, else its subword vector; `None` when unknown (or too long for a
/// subword vector).
fn vector_of(emb: &Embeddings, word: &str, max_word: usize) -> Option<Vec<f32>> {
    match find(emb, word, false, max_word) {
        Found::Vector(v, _) => Some(v),
        Found::Unknown | Found::TooLong => None,
    }
}

// ---------------------------------------------------------------------------------------------
// GET /healthz, GET /v1/models

/// `GET /healthz`: `{"status": "ok"}` while the server runs.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

#[derive(Serialize)]
pub struct ModelInfo {
    name: String,
    rows: usize,
    dims: usize,
    storage: &'static str,
    subwords: Option<embers::subword::SubwordConfig>,
    /// A sweep chart is served at `/v1/models/{name}/sweep.svg`.
    sweep: bool,
}

#[derive(Serialize)]
pub struct TransformerInfo {
    name: String,
    family: String,
    vocab_size: usize,
    hidden_size: usize,
}

#[derive(Serialize)]
pub struct SentenceInfo {
    name: String,
    dims: usize,
    rows: usize,
    vocab_size: usize,
    normalize: bool,
    max_length: Option<usize>,
}

#[derive(Serialize)]
pub struct ClassifierInfo {
    name: String,
    /// Number of labels.
    labels: usize,
    dims: usize,
    /// `softmax`, `ns`, `hs` or `ova`.
    loss: &'static str,
    /// True for a quantized (`.ftz`) model.
    quantized: bool,
}

/// One entry of OpenAI's model list, with what `/v1/embeddings` can do with it.
#[derive(Serialize)]
pub struct OpenAiModel {
    id: String,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
    /// `embedding` (word vectors), `transformer` (input layer), `sentence` (static model) or
    /// `classifier` (fastText supervised model: `/predict` only).
    kind: &'static str,
    /// Dimensions of the vectors `/v1/embeddings` answers (absent for transformers).
    #[serde(skip_serializing_if = "Option::is_none")]
    dims: Option<usize>,
}

#[derive(Serialize)]
pub struct ModelsResponse {
    /// OpenAI's list shape: `object` is `list` and `data` lists every model.
    object: &'static str,
    data: Vec<OpenAiModel>,
    models: Vec<ModelInfo>,
    transformers: Vec<TransformerInfo>,
    sentences: Vec<SentenceInfo>,
    classifiers: Vec<ClassifierInfo>,
}

/// `GET /v1/models`: every model's name and shape, also in OpenAI's list shape.
pub async fn models(State(state): State<Shared>) -> Json<ModelsResponse> {
    let models: Vec<ModelInfo> = state
        .registry
        .models()
        .map(|m| ModelInfo {
            name: m.name.clone(),
            rows: m.embeddings.len(),
            dims: m.embeddings.dims(),
            storage: m.embeddings.storage().kind(),
            subwords: m.embeddings.subwords().map(|s| s.config),
            sweep: m.sweep.is_some(),
        })
        .collect();
    let transformers: Vec<TransformerInfo> = state
        .registry
        .transformers()
        .map(|t| TransformerInfo {
            name: t.name.clone(),
            family: t.layer.family().name().to_string(),
            vocab_size: t.layer.word_embeddings().rows(),
            hidden_size: t.layer.hidden_size(),
        })
        .collect();
    let sentences: Vec<SentenceInfo> = state
        .registry
        .sentences()
        .map(|s| SentenceInfo {
            name: s.name.clone(),
            dims: s.model.dims(),
            rows: s.model.rows(),
            vocab_size: s.model.vocab_size(),
            normalize: s.model.normalize(),
            max_length: s.model.max_length(),
        })
        .collect();
    let encoders: Vec<(String, usize)> = state
        .registry
        .sentence_transformers()
        .map(|t| (t.name.clone(), t.model.dims()))
        .collect();
    let classifiers: Vec<ClassifierInfo> = state
        .registry
        .classifiers()
        .map(|c| ClassifierInfo {
            name: c.name.clone(),
            labels: c.classifier.nlabels(),
            dims: c.classifier.args.dim as usize,
            loss: c.classifier.loss_name(),
            quantized: c.classifier.is_quantized(),
        })
        .collect();
    let entry = |id: &str, kind: &'static str, dims: Option<usize>| OpenAiModel {
        id: id.to_string(),
        object: "model",
        created: 0,
        owned_by: "embers",
        kind,
        dims,
    };
    let mut data: Vec<OpenAiModel> = Vec::new();
    data.extend(
        sentences
            .iter()
            .map(|s| entry(&s.name, "sentence", Some(s.dims))),
    );
    data.extend(
        models
            .iter()
            .map(|m| entry(&m.name, "embedding", Some(m.dims))),
    );
    // A sentence-transformers folder answers /v1/embeddings: listed once, as a sentence model
    // with its dimensions (its input layer stays under `transformers`).
    data.extend(
        transformers
            .iter()
            .map(|t| match encoders.iter().find(|(n, _)| *n == t.name) {
                Some(&(_, dims)) => entry(&t.name, "sentence", Some(dims)),
                None => entry(&t.name, "transformer", None),
            }),
    );
    data.extend(
        classifiers
            .iter()
            .map(|c| entry(&c.name, "classifier", None)),
    );
    Json(ModelsResponse {
        object: "list",
        data,
        models,
        transformers,
        sentences,
        classifiers,
    })
}

// ---------------------------------------------------------------------------------------------
// POST /v1/models/{model}/vectors

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorsRequest {
    words: Vec<String>,
    /// Give unknown words the `<unk>` row when the vocabulary has one.
    #[serde(default)]
    unk: bool,
}

#[derive(Serialize)]
pub struct WordVector {
    word: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vector: Option<Vec<f32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

#[derive(Serialize)]
pub struct VectorsResponse {
    results: Vec<WordVector>,
}

/// `POST /v1/models/{model}/vectors`: the vectors of a batch of words, unknown ones reported
/// per word.
pub async fn vectors(
    State(state): State<Shared>,
    ModelName(name): ModelName,
    JsonBody(req): JsonBody<VectorsRequest>,
) -> ApiResult<VectorsResponse> {
    let model = model(&state, &name)?;
    check_batch(&state, req.words.len(), "words")?;
    check_answer(&state, req.words.len(), model.embeddings.dims())?;
    let heavy = req
        .words
        .iter()
        .any(|w| needs_subwords(&model.embeddings, w));
    let max_word = state.limits.max_word;
    let emb = model.embeddings.clone();
    let answer = run(&state, heavy, move |deadline| {
        let mut results = Vec::with_capacity(req.words.len());
        for word in req.words {
            deadline.check()?;
            results.push(match find(&emb, &word, req.unk, max_word) {
                Found::Vector(vector, source) => {
                    let (source, id) = source_name(source);
                    WordVector {
                        word,
                        id,
                        source: Some(source),
                        vector: Some(vector),
                        error: None,
                    }
                }
                found => WordVector {
                    word,
                    id: None,
                    source: None,
                    vector: None,
                    error: Some(match found {
                        Found::TooLong => "word too long for a subword vector",
                        _ => "unknown word",
                    }),
                },
            });
        }
        Ok(VectorsResponse { results })
    })
    .await?;
    Ok(Json(answer))
}

// ---------------------------------------------------------------------------------------------
// POST /v1/models/{model}/similarity

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimilarityRequest {
    pairs: Vec<Vec<String>>,
}

#[derive(Serialize)]
pub struct PairScore {
    pair: [String; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
pub struct SimilarityResponse {
    results: Vec<PairScore>,
}

/// `POST /v1/models/{model}/similarity`: cosine similarity of word pairs (subword vectors for
/// unknown words when the model has subwords); a pair with an unknown word gets an error.
pub async fn similarity(
    State(state): State<Shared>,
    ModelName(name): ModelName,
    JsonBody(req): JsonBody<SimilarityRequest>,
) -> ApiResult<SimilarityResponse> {
    let model = model(&state, &name)?;
    check_batch(&state, req.pairs.len(), "pairs")?;
    let mut pairs = Vec::with_capacity(req.pairs.len());
    for (i, p) in req.pairs.into_iter().enumerate() {
        let Ok(pair) = <[String; 2]>::try_from(p) else {
            return Err(ApiError::unprocessable(
                "invalid_request",
                format!("pairs[{i}] must be a list of two words"),
            ));
        };
        pairs.push(pair);
    }
    let heavy = pairs
        .iter()
        .flatten()
        .any(|w| needs_subwords(&model.embeddings, w));
    let max_word = state.limits.max_word;
    let emb = model.embeddings.clone();
    let answer = run(&state, heavy, move |deadline| {
        let mut results = Vec::with_capacity(pairs.len());
        for pair in pairs {
            deadline.check()?;
            let a = vector_of(&emb, &pair[0], max_word);
            let b = vector_of(&emb, &pair[1], max_word);
            results.push(match (a, b) {
                (Some(a), Some(b)) => PairScore {
                    score: Some(embers::kernels::cosine(&a, &b)),
                    pair,
                    error: None,
                },
                (a, _) => {
                    let missing = if a.is_none() { &pair[0] } else { &pair[1] };
                    PairScore {
                        error: Some(format!("unknown word {missing:?}")),
                        pair,
                        score: None,
                    }
                }
            });
        }
        Ok(SimilarityResponse { results })
    })
    .await?;
    Ok(Json(answer))
}

// ---------------------------------------------------------------------------------------------
// POST /v1/models/{model}/similar, /analogy

/// `k` when the request gives none: 10, or `--max-k` when that is smaller.
fn default_k(state: &Shared) -> usize {
    10.min(state.limits.max_k)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimilarRequest {
    word: Option<String>,
    vector: Option<Vec<f32>>,
    k: Option<usize>,
    #[serde(default)]
    ann: bool,
}

#[derive(Serialize)]
pub struct NeighborsResponse {
    neighbors: Vec<Neighbor>,
}

fn unknown_word(word: &str) -> ApiError {
    ApiError::unprocessable(
        "unknown_word",
        format!("{word:?} is not in the vocabulary and has no subword vector"),
    )
}

/// The unit query vector and the rows to leave out for a `/similar` request: a vocabulary
/// word is its own unit row (and is not its own neighbour); an unknown word with subwords is
/// its subword vector; a vector is scaled to unit length.
fn similar_query(
    emb: &Embeddings,
    req: SimilarRequest,
    max_word: usize,
) -> Result<(Vec<f32>, Vec<u32>), ApiError> {
    match (req.word, req.vector) {
        (Some(w), None) => {
            if let Some(id) = emb.vocab().id(&w) {
                return Ok((query::unit_row(emb, id), vec![id]));
            }
            let mut v = match find(emb, &w, false, max_word) {
                Found::Vector(v, _) => v,
                Found::Unknown => return Err(unknown_word(&w)),
                Found::TooLong => {
                    return Err(ApiError::unprocessable(
                        "word_too_long",
                        format!(
                            "the word has {} bytes; subword vectors are given to words of at most {max_word} bytes",
                            w.len()
                        ),
                    ))
                }
            };
            kernels::normalize(&mut v);
            Ok((v, Vec::new()))
        }
        (None, Some(mut v)) => {
            if v.len() != emb.dims() {
                return Err(ApiError::unprocessable(
                    "dimension_mismatch",
                    format!(
                        "`vector` has {} values; the model has {} dims",
                        v.len(),
                        emb.dims()
                    ),
                ));
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(ApiError::unprocessable(
                    "invalid_request",
                    "`vector` has a non-finite value",
                ));
            }
            if kernels::normalize(&mut v) == 0.0 {
                return Err(ApiError::unprocessable(
                    "invalid_request",
                    "`vector` is all zeros: it has no direction to compare",
                ));
            }
            Ok((v, Vec::new()))
        }
        _ => Err(ApiError::unprocessable(
            "invalid_request",
            "give exactly one of `word` and `vector`",
        )),
    }
}

/// Runs a neighbour search: exact (batched with concurrent requests) or through the model's
/// approximate index.
async fn search(
    state: &Shared,
    model: Arc<Model>,
    query: Vec<f32>,
    k: usize,
    exclude: Vec<u32>,
    ann: bool,
) -> Result<Vec<Neighbor>, ApiError> {
    let k = k.min(model.embeddings.len());
    let hits = if ann {
        if model.index.is_none() {
            return Err(ApiError::unprocessable(
                "ann_unavailable",
                format!(
                    "model {:?} has no approximate index; build one with `embers index build` \
                     or start the server with --ann",
                    model.name
                ),
            ));
        }
        let ef = state.limits.ef.max(k);
        let model = model.clone();
        state
            .heavy
            .run(state.limits.timeout, move |_| match model.index.as_ref() {
                Some(index) => Ok(index.search(&model.embeddings, &query, k, ef, &exclude)?),
                None => Err(ApiError::internal("the index vanished")),
            })
            .await?
    } else {
        model
            .searcher
            .search(query, k, exclude)
            .await
            .ok_or_else(|| ApiError::internal("the search thread has stopped"))?
    };
    Ok(query::named(&model.embeddings, hits))
}

/// `GET /v1/models/{model}/sweep.svg`: the quality-against-size chart found beside the model's
/// file when it was loaded (`embers sweep --svg`). Served as an image that may not run scripts
/// or fetch anything (the page shows it in an `<img>`).
pub async fn sweep_chart(
    State(state): State<Shared>,
    ModelName(name): ModelName,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let model = model(&state, &name)?;
    let Some(svg) = model.sweep.clone() else {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "no_sweep",
            format!(
                "model {name:?} has no sweep chart (write one beside its file with \
                 `embers sweep FILE --svg STEM.sweep.svg` and restart the server)"
            ),
        ));
    };
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        svg,
    )
        .into_response())
}

/// `POST /v1/models/{model}/similar`: the `k` nearest neighbours (cosine) of a word or a
/// vector; `ann: true` uses the approximate index.
pub async fn similar(
    State(state): State<Shared>,
    ModelName(name): ModelName,
    JsonBody(req): JsonBody<SimilarRequest>,
) -> ApiResult<NeighborsResponse> {
    let model = model(&state, &name)?;
    let k = req.k.unwrap_or_else(|| default_k(&state));
    check_k(&state, k)?;
    let ann = req.ann;
    let max_word = state.limits.max_word;
    let heavy = req
        .word
        .as_deref()
        .is_some_and(|w| needs_subwords(&model.embeddings, w));
    let emb = model.embeddings.clone();
    let (query, exclude) = run(&state, heavy, move |_| similar_query(&emb, req, max_word)).await?;
    let neighbors = search(&state, model, query, k, exclude, ann).await?;
    Ok(Json(NeighborsResponse { neighbors }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalogyRequest {
    a: String,
    b: String,
    c: String,
    k: Option<usize>,
    #[serde(default)]
    ann: bool,
}

/// `POST /v1/models/{model}/analogy`: `a` is to `b` as `c` is to the answers — gensim's
/// `most_similar(positive=[b, c], negative=[a])` (3CosAdd over unit vectors), the three
/// query words excluded.
pub async fn analogy(
    State(state): State<Shared>,
    ModelName(name): ModelName,
    JsonBody(req): JsonBody<AnalogyRequest>,
) -> ApiResult<NeighborsResponse> {
    let model = model(&state, &name)?;
    let k = req.k.unwrap_or_else(|| default_k(&state));
    check_k(&state, k)?;
    let emb = &model.embeddings;
    let ids = query::ids_of(emb, &[&req.a, &req.b, &req.c]).map_err(|e| match e {
        embers::Error::UnknownTokens(words) => ApiError::unprocessable(
            "unknown_word",
            format!("not in the vocabulary: {}", words.join(", ")),
        ),
        other => other.into(),
    })?;
    let q = query::mean_query(emb, &[ids[1], ids[2]], &[ids[0]])?;
    let neighbors = search(&state, model, q, k, ids, req.ann).await?;
    Ok(Json(NeighborsResponse { neighbors }))
}

// ---------------------------------------------------------------------------------------------
// POST /v1/models/{model}/projection

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectionRequest {
    words: Vec<String>,
}

#[derive(Serialize)]
pub struct Point {
    word: String,
    x: f64,
    y: f64,
}

#[derive(Serialize)]
pub struct ProjectionResponse {
    points: Vec<Point>,
    /// Share of the variance along x and y.
    explained: [f64; 2],
    /// Requested words without a vector (left out of `points`).
    unknown: Vec<String>,
}

/// `POST /v1/models/{model}/projection`: the words' vectors placed on their first two
/// principal components (for the page's plot).
pub async fn projection(
    State(state): State<Shared>,
    ModelName(name): ModelName,
    JsonBody(req): JsonBody<ProjectionRequest>,
) -> ApiResult<ProjectionResponse> {
    let model = model(&state, &name)?;
    check_batch(&state, req.words.len(), "words")?;
    let max_word = state.limits.max_word;
    let answer = run(&state, true, move |deadline| {
        let emb = &model.embeddings;
        let mut known = Vec::new();
        let mut vectors = Vec::new();
        let mut unknown = Vec::new();
        for w in req.words {
            deadline.check()?;
            match vector_of(emb, &w, max_word) {
                Some(v) => {
                    known.push(w);
                    vectors.push(v);
                }
                None => unknown.push(w),
            }
        }
        let refs: Vec<&[f32]> = vectors.iter().map(|v| v.as_slice()).collect();
        let p = crate::projection::pca2(&refs)
            .ok_or_else(|| ApiError::internal("vectors of unequal length"))?;
        let points = known
            .into_iter()
            .zip(p.points)
            .map(|(word, [x, y])| Point { word, x, y })
            .collect();
        Ok(ProjectionResponse {
            points,
            explained: p.explained,
            unknown,
        })
    })
    .await?;
    Ok(Json(answer))
}

// ---------------------------------------------------------------------------------------------
// POST /v1/transformers/{model}/embed

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedRequest {
    text: String,
    pair: Option<String>,
}

#[derive(Serialize)]
pub struct EmbedResponse {
    tokens: Vec<String>,
    ids: Vec<u32>,
    type_ids: Vec<u32>,
    /// True when the model's tokenizer cut the text to fit.
    truncated: bool,
    /// One row of `hidden_size` values per token: the input the first attention block sees.
    embeddings: Vec<Vec<f32>>,
}

fn transformer(state: &Shared, name: &str) -> Result<Arc<Transformer>, ApiError> {
    state
        .registry
        .transformer(name)
        .cloned()
        .ok_or_else(|| ApiError::unknown_model(name))
}

/// `POST /v1/transformers/{model}/embed`: a text (and optional pair) tokenized as the model
/// does, and the input embedding layer's output for each token.
pub async fn embed(
    State(state): State<Shared>,
    ModelName(name): ModelName,
    JsonBody(req): JsonBody<EmbedRequest>,
) -> ApiResult<EmbedResponse> {
    let t = transformer(&state, &name)?;
    let limits = state.limits;
    let answer = run(&state, true, move |deadline| {
        let (enc, m) = t.layer.embed_text(&req.text, req.pair.as_deref())?;
        deadline.check()?;
        let max = limits.max_answer;
        let estimate = m
            .rows()
            .saturating_mul(m.dims().saturating_mul(16).saturating_add(64));
        if estimate > max {
            return Err(ApiError::too_large(
                "answer_too_large",
                format!(
                    "the answer would hold {} tokens of {} values (about {estimate} bytes); \
                     the server answers at most {max} bytes (--max-answer)",
                    m.rows(),
                    m.dims()
                ),
            ));
        }
        let embeddings = (0..m.rows()).map(|r| m.row(r).to_vec()).collect();
        Ok(EmbedResponse {
            tokens: enc.tokens,
            ids: enc.ids,
            type_ids: enc.type_ids,
            truncated: enc.truncated,
            embeddings,
        })
    })
    .await?;
    Ok(Json(answer))
}

// ---------------------------------------------------------------------------------------------
// POST /v1/models/{model}/predict

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    text: Option<String>,
    texts: Option<Vec<String>>,
    k: Option<usize>,
    threshold: Option<f64>,
}

/// One text's answer: the labels (prefix included) and their probabilities, most probable
/// first, as `embers predict --json` prints them.
#[derive(Serialize)]
pub struct LabelsProbs {
    labels: Vec<String>,
    probs: Vec<f32>,
}

#[derive(Serialize)]
pub struct PredictResponse {
    /// One entry per text, in order (one for `text`).
    results: Vec<LabelsProbs>,
}

fn classifier(state: &Shared, name: &str) -> Result<Arc<ClassifierModel>, ApiError> {
    if let Some(c) = state.registry.classifier(name) {
        return Ok(c.clone());
    }
    if state.registry.contains(name) {
        return Err(ApiError::unprocessable(
            "not_a_classifier",
            format!(
                "model {name:?} is not a supervised fastText model (.bin or .ftz): it has no \
                 labels to predict"
            ),
        ));
    }
    Err(ApiError::unknown_model(name))
}

/// `POST /v1/models/{model}/predict`: fastText's `predict` on each text (one line each, with
/// its end-of-line token): the `k` most probable labels with probability at least `threshold`.
pub async fn predict(
    State(state): State<Shared>,
    ModelName(name): ModelName,
    JsonBody(req): JsonBody<PredictRequest>,
) -> ApiResult<PredictResponse> {
    let model = classifier(&state, &name)?;
    let (texts, field) = match (req.text, req.texts) {
        (Some(t), None) => (vec![t], "text"),
        (None, Some(ts)) => (ts, "texts"),
        _ => {
            return Err(ApiError::unprocessable(
                "invalid_request",
                "give exactly one of `text` (a string) and `texts` (a list of strings)",
            ))
        }
    };
    check_batch(&state, texts.len(), field)?;
    let k = req.k.unwrap_or(1);
    check_k(&state, k).map_err(|e| e.with_param("k"))?;
    let threshold = req.threshold.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(ApiError::unprocessable(
            "threshold_out_of_range",
            format!("threshold = {threshold} is outside 0..=1 (a probability)"),
        )
        .with_param("threshold"));
    }
    if let Some(i) = texts.iter().position(|t| t.contains('\n')) {
        let at = if field == "text" {
            "`text`".to_string()
        } else {
            format!("`texts[{i}]`")
        };
        return Err(ApiError::unprocessable(
            "invalid_request",
            format!(
                "{at} holds a newline; fastText predicts one line at a time: send each line as \
                 its own entry of `texts`"
            ),
        )
        .with_param(if field == "text" { "text" } else { "texts" }));
    }
    let c = &model.classifier;
    check_answer(&state, texts.len(), 2 * k.min(c.nlabels()))?;
    let answer = run(&state, true, move |deadline| {
        let c = &model.classifier;
        let mut scratch = Scratch::default();
        let mut results = Vec::with_capacity(texts.len());
        for t in &texts {
            deadline.check()?;
            let preds = c.predict_with(t.as_bytes(), true, k, threshold as f32, &mut scratch);
            results.push(LabelsProbs {
                labels: preds.iter().map(|p| c.label(p.label).to_string()).collect(),
                probs: preds.iter().map(|p| p.prob).collect(),
            });
        }
        Ok(PredictResponse { results })
    })
    .await?;
    Ok(Json(answer))
}
