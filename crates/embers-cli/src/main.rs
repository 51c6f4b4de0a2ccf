//! The `embers` command-line tool: one module per subcommand, each thin over the library.

mod cmd;
mod progress;

use clap::{Parser, Subcommand};

/// embers: embedding layers end to end — vocabularies, matrices, training, formats, queries.
#[derive(Parser)]
#[command(name = "embers", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// How long jobs report progress: a bar on a terminal, JSON lines on stderr, or nothing.
    #[arg(long, global = true, value_enum, default_value_t = progress::Mode::Auto)]
    progress: progress::Mode,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a vocabulary from a corpus or a word list.
    #[command(subcommand)]
    Vocab(cmd::vocab::VocabCommand),
    /// Create a randomly initialised embedding matrix for a vocabulary.
    Init(cmd::init::Args),
    /// Print the vectors of words.
    Lookup(cmd::lookup::Args),
    /// Show the shape, storage and metadata of an embedding file.
    Info(cmd::info::Args),
    /// Convert an embedding file between formats (sniffed, or --from/--to).
    Convert(cmd::convert::Args),
    /// Export an embedding file to a vector database (Milvus, through the Python package).
    Export(cmd::export::Args),
    /// Check the checksum and structure of a native file.
    Verify(cmd::info::VerifyArgs),
    /// Train embeddings on a corpus (word2vec, fastText-style subwords, GloVe).
    #[command(subcommand)]
    Train(cmd::train::TrainCommand),
    /// Compress an embedding file to f16, int8 or product-quantized storage.
    Quantize(cmd::quantize::Args),
    /// Fewer dimensions: PCA or truncation, the projection kept in the file.
    Reduce(cmd::reduce::Args),
    /// Quality against bytes a row over dimensions and storage kinds: table, JSON, SVG chart.
    Sweep(cmd::sweep::Args),
    /// Run the main job on built-in data: vocabulary, matrix, lookups.
    Demo(cmd::demo::Args),
    /// Nearest neighbours of words (exact, or approximate with --ann).
    Similar(cmd::similar::Args),
    /// A is to B as C is to ? (3CosAdd, or 3CosMul).
    Analogy(cmd::analogy::Args),
    /// Analogy and word-pair benchmarks (gensim's protocols).
    Eval(cmd::eval::Args),
    /// Approximate-neighbour (HNSW) index of an embedding file.
    #[command(subcommand)]
    Index(cmd::index::IndexCommand),
    /// The input embedding layer of a Hugging Face model: tokens, ids, type ids, vectors.
    Tokens(cmd::tokens::Args),
    /// One vector per text: static sentence models (model2vec), sentence-transformers
    /// (BERT family) or pooled word models.
    Encode(cmd::encode::Args),
    /// A static model (model2vec folder + native file) distilled from a sentence-transformers
    /// folder by model2vec's recipe.
    Distill(cmd::distill::Args),
    /// Serve models over HTTP: a JSON API and a page to explore them.
    Serve(cmd::serve::Args),
    /// Labels of lines from a fastText supervised model (.bin or quantized .ftz).
    Predict(cmd::predict::Args),
    /// Precision and recall at k of a supervised model on labelled lines (as `fasttext test`).
    Test(cmd::predict::TestArgs),
}

fn main() {
    let cli = Cli::parse();
    let progress = cli.progress;
    let result = match cli.command {
        Command::Vocab(c) => cmd::vocab::run(c, progress),
        Command::Init(a) => cmd::init::run(a),
        Command::Lookup(a) => cmd::lookup::run(a),
        Command::Info(a) => cmd::info::run(a),
        Command::Convert(a) => cmd::convert::run(a),
        Command::Export(a) => cmd::export::run(a, progress),
        Command::Verify(a) => cmd::info::verify(a),
        Command::Train(c) => cmd::train::run(c, progress),
        Command::Demo(a) => cmd::demo::run(a, progress),
        Command::Similar(a) => cmd::similar::run(a),
        Command::Analogy(a) => cmd::analogy::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Index(c) => cmd::index::run(c),
        Command::Tokens(a) => cmd::tokens::run(a, progress),
        Command::Quantize(a) => cmd::quantize::run(a, progress),
        Command::Encode(a) => cmd::encode::run(a, progress),
        Command::Distill(a) => cmd::distill::run(a, progress),
        Command::Reduce(a) => cmd::reduce::run(a),
        Command::Sweep(a) => cmd::sweep::run(a, progress),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Predict(a) => cmd::predict::run(a),
        Command::Test(a) => cmd::predict::test(a),
    };
    if let Err(e) = result {
        // One line: the error and its causes, outermost first.
        let mut msg = e.to_string();
        for cause in e.chain().skip(1) {
            let c = cause.to_string();
            if !msg.contains(&c) {
                msg.push_str(": ");
                msg.push_str(&c);
            }
        }
        eprintln!("embers: error: {msg}");
        std::process::exit(1);
    }
}
