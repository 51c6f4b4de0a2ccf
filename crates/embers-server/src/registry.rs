//! The models a server answers for: embedding models, transformer input layers, static sentence
//! models and fastText classifiers, each under a name, loaded once and shared by every request
//! through `Arc` (memory-mapped files stay mapped; no request copies a matrix).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use embers::search::{Hnsw, Screening};
use embers::sentence::{SentenceTransformer, StaticModel};
use embers::supervised::Classifier;
use embers::transformer::InputEmbeddings;
use embers::Embeddings;

use crate::search::Searcher;

/// An embedding model being served.
#[derive(Debug)]
pub struct Model {
    /// The name in URLs (`/v1/models/{name}/...`).
    pub name: String,
    /// Where it was loaded from (shown in logs only).
    pub path: PathBuf,
    /// The vectors (shared with the model's search thread).
    pub embeddings: Arc<Embeddings>,
    /// Exact search, batched across concurrent requests.
    pub searcher: Searcher,
    /// The approximate (HNSW) index, when one was opened or built for this model.
    pub index: Option<Hnsw>,
    /// The quality-against-size chart of `embers sweep --svg`, when one sits beside the file
    /// (see [`sweep_chart_beside`]); read once when the model is added.
    pub sweep: Option<axum::body::Bytes>,
}

/// A transformer input layer being served (`/v1/transformers/{name}/embed`).
#[derive(Debug)]
pub struct Transformer {
    /// The name in URLs.
    pub name: String,
    /// The model folder.
    pub path: PathBuf,
    /// The input embedding layer (weights memory-mapped).
    pub layer: InputEmbeddings,
}

/// A static sentence model being served (`/v1/embeddings`).
#[derive(Debug)]
pub struct Sentence {
    /// The name (the `model` of `/v1/embeddings`).
    pub name: String,
    /// The model folder.
    pub path: PathBuf,
    /// The model (token table in memory).
    pub model: StaticModel,
}

/// A sentence-transformers model with a transformer encoder being served (`/v1/embeddings`).
/// Its folder is also served as a transformer input layer under the same name.
#[derive(Debug)]
pub struct SentenceEncoder {
    /// The name (the `model` of `/v1/embeddings`).
    pub name: String,
    /// The model folder.
    pub path: PathBuf,
    /// The encoder, pooling and normalisation of the folder.
    pub model: SentenceTransformer,
}

/// A fastText supervised model being served (`/v1/models/{name}/predict`).
#[derive(Debug)]
pub struct ClassifierModel {
    /// The name in URLs.
    pub name: String,
    /// The `.bin` or `.ftz` file.
    pub path: PathBuf,
    /// The classifier (in memory).
    pub classifier: Classifier,
}

/// Every model the server answers for, by name.
#[derive(Debug, Default)]
pub struct Registry {
    models: BTreeMap<String, Arc<Model>>,
    transformers: BTreeMap<String, Arc<Transformer>>,
    /// Exact single queries are not screened (`--no-query-screen`).
    no_screen: bool,
    sentences: BTreeMap<String, Arc<Sentence>>,
    classifiers: BTreeMap<String, Arc<ClassifierModel>>,
    /// Sentence-transformers encoders, named as the transformer input layer of their folder.
    encoders: BTreeMap<String, Arc<SentenceEncoder>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether models added from now on screen their exact single queries with an int8 copy of
    /// their f32 rows (the default; built when the model is added, a quarter of the matrix's
    /// memory; the answers are the same either way).
    pub fn set_query_screen(&mut self, on: bool) {
        self.no_screen = !on;
    }

    /// Adds an embedding model under `name`. Names must be non-empty, URL-safe
    /// (`A-Z a-z 0-9 . _ -`) and unique.
    pub fn add_embeddings(
        &mut self,
        name: &str,
        path: impl Into<PathBuf>,
        embeddings: Embeddings,
    ) -> embers::Result<()> {
        self.add_embeddings_with_index(name, path, embeddings, None)
    }

    /// Like [`Registry::add_embeddings`], with an HNSW index built for these embeddings
    /// (answers `ann: true` queries; checked to belong to them).
    pub fn add_embeddings_with_index(
        &mut self,
        name: &str,
        path: impl Into<PathBuf>,
        embeddings: Embeddings,
        index: Option<Hnsw>,
    ) -> embers::Result<()> {
        self.check_name(name)?;
        let path = path.into();
        if let Some(ix) = &index {
            ix.check_belongs(&embeddings, &path)?;
        }
        // Norms are needed by every similarity query; computing them now keeps the first
        // request as fast as the others.
        let _ = embeddings.norms();
        let embeddings = Arc::new(embeddings);
        let screening = if self.no_screen {
            Screening::Off
        } else {
            Screening::Eager
        };
        let sweep = sweep_chart_beside(&path)?;
        let searcher = Searcher::start(name, embeddings.clone(), screening)
            .map_err(|e| embers::Error::Other(format!("cannot start a search thread: {e}")))?;
        self.models.insert(
            name.to_string(),
            Arc::new(Model {
                name: name.to_string(),
                path,
                embeddings,
                searcher,
                index,
                sweep,
            }),
        );
        Ok(())
    }

    /// Adds a transformer input layer under `name` (same naming rules; names are shared with
    /// embedding models).
    pub fn add_transformer(
        &mut self,
        name: &str,
        path: impl Into<PathBuf>,
        layer: InputEmbeddings,
    ) -> embers::Result<()> {
        self.check_name(name)?;
        self.transformers.insert(
            name.to_string(),
            Arc::new(Transformer {
                name: name.to_string(),
                path: path.into(),
                layer,
            }),
        );
        Ok(())
    }

    /// Adds a static sentence model under `name` (same naming rules, shared names).
    pub fn add_sentence(
        &mut self,
        name: &str,
        path: impl Into<PathBuf>,
        model: StaticModel,
    ) -> embers::Result<()> {
        self.check_name(name)?;
        self.sentences.insert(
            name.to_string(),
            Arc::new(Sentence {
                name: name.to_string(),
                path: path.into(),
                model,
            }),
        );
        Ok(())
    }

    /// Adds a sentence-transformers encoder under `name` for `/v1/embeddings`. The name may be
    /// that of a transformer input layer (the same folder, served on both routes), not that of
    /// any other model.
    pub fn add_sentence_transformer(
        &mut self,
        name: &str,
        path: impl Into<PathBuf>,
        model: SentenceTransformer,
    ) -> embers::Result<()> {
        if !self.transformers.contains_key(name) || self.encoders.contains_key(name) {
            self.check_name(name)?;
        }
        self.encoders.insert(
            name.to_string(),
            Arc::new(SentenceEncoder {
                name: name.to_string(),
                path: path.into(),
                model,
            }),
        );
        Ok(())
    }

    /// The sentence-transformers encoder named `name`.
    pub fn sentence_transformer(&self, name: &str) -> Option<&Arc<SentenceEncoder>> {
        self.encoders.get(name)
    }

    /// All sentence-transformers encoders, by name.
    pub fn sentence_transformers(&self) -> impl Iterator<Item = &Arc<SentenceEncoder>> {
        self.encoders.values()
    }

    /// The static sentence model named `name`.
    pub fn sentence(&self, name: &str) -> Option<&Arc<Sentence>> {
        self.sentences.get(name)
    }

    /// All static sentence models, by name.
    pub fn sentences(&self) -> impl Iterator<Item = &Arc<Sentence>> {
        self.sentences.values()
    }

    /// Adds a fastText supervised classifier under `name` (same naming rules, shared names).
    pub fn add_classifier(
        &mut self,
        name: &str,
        path: impl Into<PathBuf>,
        classifier: Classifier,
    ) -> embers::Result<()> {
        self.check_name(name)?;
        self.classifiers.insert(
            name.to_string(),
            Arc::new(ClassifierModel {
                name: name.to_string(),
                path: path.into(),
                classifier,
            }),
        );
        Ok(())
    }

    /// The classifier named `name`.
    pub fn classifier(&self, name: &str) -> Option<&Arc<ClassifierModel>> {
        self.classifiers.get(name)
    }

    /// All classifiers, by name.
    pub fn classifiers(&self) -> impl Iterator<Item = &Arc<ClassifierModel>> {
        self.classifiers.values()
    }

    fn check_name(&self, name: &str) -> embers::Result<()> {
        if !valid_name(name) {
            return Err(embers::Error::invalid(
                "model name",
                format!("{name:?} must be non-empty and use only A-Z a-z 0-9 . _ -"),
            ));
        }
        if self.contains(name) {
            return Err(embers::Error::invalid(
                "model name",
                format!("{name:?} is used twice; name models with NAME=PATH"),
            ));
        }
        Ok(())
    }

    /// True when some model (of any kind) has this name.
    pub fn contains(&self, name: &str) -> bool {
        self.models.contains_key(name)
            || self.transformers.contains_key(name)
            || self.sentences.contains_key(name)
            || self.classifiers.contains_key(name)
            || self.encoders.contains_key(name)
    }

    /// The embedding model named `name`.
    pub fn model(&self, name: &str) -> Option<&Arc<Model>> {
        self.models.get(name)
    }

    /// All embedding models, by name.
    pub fn models(&self) -> impl Iterator<Item = &Arc<Model>> {
        self.models.values()
    }

    /// The transformer named `name`.
    pub fn transformer(&self, name: &str) -> Option<&Arc<Transformer>> {
        self.transformers.get(name)
    }

    /// All transformers, by name.
    pub fn transformers(&self) -> impl Iterator<Item = &Arc<Transformer>> {
        self.transformers.values()
    }

    /// Number of models of every kind.
    pub fn len(&self) -> usize {
        self.models.len() + self.transformers.len() + self.sentences.len() + self.classifiers.len()
    }

    /// True when nothing is served.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Largest sweep chart the server reads (an `embers sweep` chart is a few tens of KB).
pub const MAX_SWEEP_CHART: u64 = 4 << 20;

/// The sweep chart served with the model file `model`: `STEM.sweep.svg` beside it (the name
/// `embers sweep IN --svg` suggests: `glove.embers` → `glove.sweep.svg`), else
/// `FILE.sweep.svg`. `None` when neither exists; an error naming the file when one exists but
/// is not a UTF-8 SVG document of at most [`MAX_SWEEP_CHART`] bytes.
pub fn sweep_chart_beside(model: &Path) -> embers::Result<Option<axum::body::Bytes>> {
    use std::io::Read;
    let mut whole = model.as_os_str().to_owned();
    whole.push(".sweep.svg");
    let candidates = [model.with_extension("sweep.svg"), PathBuf::from(whole)];
    let Some(path) = candidates.into_iter().find(|p| p.is_file()) else {
        return Ok(None);
    };
    // One bounded read: a byte past the limit means the file is too large.
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_SWEEP_CHART + 1).read_to_end(&mut bytes))
        .map_err(|e| embers::Error::io(&path, e))?;
    if bytes.len() as u64 > MAX_SWEEP_CHART {
        return Err(embers::Error::at_byte(
            &path,
            MAX_SWEEP_CHART,
            format!("a sweep chart is larger than the {MAX_SWEEP_CHART} bytes served"),
        ));
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let at = e.valid_up_to() as u64;
        embers::Error::at_byte(&path, at, "a sweep chart must be UTF-8")
    })?;
    let head = text.trim_start_matches('\u{feff}').trim_start();
    if !(head.starts_with("<svg") || head.starts_with("<?xml")) || !text.contains("</svg>") {
        return Err(embers::Error::at_byte(
            &path,
            0,
            "not an SVG document (a sweep chart from `embers sweep --svg` was expected)",
        ));
    }
    Ok(Some(axum::body::Bytes::from(bytes)))
}

/// True for names usable in a URL path segment without escaping.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Splits a command-line model argument into its name and path: `NAME=PATH`, or a bare path
/// served under its file stem (folder name for a directory).
pub fn split_model_arg(arg: &str) -> (String, PathBuf) {
    if let Some((name, path)) = arg.split_once('=') {
        if valid_name(name) && !name.contains('/') {
            return (name.to_string(), PathBuf::from(path));
        }
    }
    let path = PathBuf::from(arg);
    (default_name(&path), path)
}

/// The name a path is served under when none is given: the file stem, or the folder's name.
pub fn default_name(path: &Path) -> String {
    let stem = if path.is_dir() {
        path.file_name()
    } else {
        path.file_stem()
    };
    let raw = stem
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_arguments_and_names() {
        assert_eq!(
            split_model_arg("news=/data/vectors.bin"),
            ("news".to_string(), PathBuf::from("/data/vectors.bin"))
        );
        assert_eq!(
            split_model_arg("/data/glove.6B.50d.embers"),
            (
                "glove.6B.50d".to_string(),
                PathBuf::from("/data/glove.6B.50d.embers")
            )
        );
        assert_eq!(default_name(Path::new("a b/c d.txt")), "c_d");
        assert!(valid_name("w2v-300_x.1"));
        assert!(!valid_name(""));
        assert!(!valid_name("a/b"));
        assert!(!valid_name("é"));
    }
}
