//! One module per subcommand.

pub mod convert;
pub mod demo;
pub mod info;
pub mod init;
pub mod lookup;
pub mod train;
pub mod vocab;
