//! One module per subcommand.

pub mod analogy;
pub mod convert;
pub mod demo;
pub mod distill;
pub mod encode;
pub mod eval;
pub mod export;
pub mod index;
pub mod info;
pub mod init;
pub mod lookup;
pub mod predict;
pub mod quantize;
pub mod reduce;
pub mod serve;
pub mod similar;
pub mod supervised;
pub mod sweep;
pub mod tokens;
pub mod train;
pub mod train_glove;
pub mod vocab;

/// Checks a numeric argument against its documented range: `embers: error: invalid argument
/// `NAME`: must be between LO and HI, got V`, exit code 1.
pub fn check_range<T>(name: &str, value: T, lo: T, hi: T) -> anyhow::Result<()>
where
    T: PartialOrd + std::fmt::Display + Copy,
{
    Ok(embers::size::check_range(name, value, lo, hi)?)
}
