//! One module per subcommand.

pub mod analogy;
pub mod convert;
pub mod demo;
pub mod eval;
pub mod index;
pub mod info;
pub mod init;
pub mod lookup;
pub mod quantize;
pub mod reduce;
pub mod serve;
pub mod similar;
pub mod sweep;
pub mod tokens;
pub mod train;
pub mod train_glove;
pub mod vocab;
