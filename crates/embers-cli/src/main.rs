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
    /// Check the checksum and structure of a native file.
    Verify(cmd::info::VerifyArgs),
    /// Run the main job on built-in data: vocabulary, matrix, lookups.
    Demo(cmd::demo::Args),
    /// The input embedding layer of a Hugging Face model: tokens, ids, type ids, vectors.
    Tokens(cmd::tokens::Args),
}

fn main() {
    let cli = Cli::parse();
    let progress = cli.progress;
    let result = match cli.command {
        Command::Vocab(c) => cmd::vocab::run(c, progress),
        Command::Init(a) => cmd::init::run(a),
        Command::Lookup(a) => cmd::lookup::run(a),
        Command::Info(a) => cmd::info::run(a),
        Command::Verify(a) => cmd::info::verify(a),
        Command::Demo(a) => cmd::demo::run(a, progress),
        Command::Tokens(a) => cmd::tokens::run(a, progress),
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
