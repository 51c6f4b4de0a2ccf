//! One module per subcommand.

pub mod convert;
pub mod analogy;
pub mod demo;
pub mod eval;
pub mod index;
pub mod info;
pub mod init;
pub mod lookup;
pub mod train;
pub mod similar;
pub mod tokens;
pub mod train_glove;
pub mod quantize;
pub mod serve;
pub mod vocab;
