//! One module per subcommand.

pub mod demo;
pub mod info;
pub mod init;
pub mod lookup;
pub mod serve;
pub mod vocab;
