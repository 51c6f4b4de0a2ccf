//! The word tokenizer: splits text into word tokens, Unicode-aware.

use serde::{Deserialize, Serialize};

/// What the tokenizer does with punctuation characters (anything neither alphanumeric nor
/// whitespace, except an apostrophe or hyphen between two letters or digits, which stays inside
/// the word: `don't`, `well-known`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Punctuation {
    /// Split on whitespace only; punctuation stays attached (the word2vec / fastText convention).
    #[default]
    Keep,
    /// Every punctuation character becomes a token of its own.
    Split,
    /// Punctuation characters are removed.
    Strip,
}

/// A word tokenizer. The default splits on Unicode whitespace and changes nothing else, which is
/// what the original word2vec and fastText tools do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WordTokenizer {
    /// Lowercase every token (Unicode lowercase).
    pub lowercase: bool,
    /// Handling of punctuation.
    pub punctuation: Punctuation,
}

impl WordTokenizer {
    /// A tokenizer with the given settings.
    pub fn new(lowercase: bool, punctuation: Punctuation) -> Self {
        WordTokenizer {
            lowercase,
            punctuation,
        }
    }

    /// True when tokens are exactly the whitespace-separated pieces of the input, so callers can
    /// borrow them instead of allocating.
    pub fn is_plain(&self) -> bool {
        !self.lowercase && self.punctuation == Punctuation::Keep
    }

    /// Calls `f` with each token of `text`, in order. Borrowed tokens when nothing changes,
    /// owned ones otherwise.
    pub fn for_each_token<'a>(&self, text: &'a str, mut f: impl FnMut(std::borrow::Cow<'a, str>)) {
        use std::borrow::Cow;
        for piece in text.split_whitespace() {
            match self.punctuation {
                Punctuation::Keep => f(self.case(Cow::Borrowed(piece))),
                Punctuation::Split | Punctuation::Strip => {
                    let keep_punct = self.punctuation == Punctuation::Split;
                    let chars: Vec<(usize, char)> = piece.char_indices().collect();
                    let mut start: Option<usize> = None;
                    for (i, &(pos, c)) in chars.iter().enumerate() {
                        if is_word_char(&chars, i) {
                            if start.is_none() {
                                start = Some(pos);
                            }
                            continue;
                        }
                        if let Some(s) = start.take() {
                            f(self.case(Cow::Borrowed(&piece[s..pos])));
                        }
                        if keep_punct {
                            f(Cow::Borrowed(&piece[pos..pos + c.len_utf8()]));
                        }
                    }
                    if let Some(s) = start {
                        f(self.case(Cow::Borrowed(&piece[s..])));
                    }
                }
            }
        }
    }

    /// The tokens of `text` as owned strings.
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_token(text, |t| out.push(t.into_owned()));
        out
    }

    fn case<'a>(&self, token: std::borrow::Cow<'a, str>) -> std::borrow::Cow<'a, str> {
        if self.lowercase && token.chars().any(|c| c.is_uppercase()) {
            std::borrow::Cow::Owned(token.to_lowercase())
        } else {
            token
        }
    }
}

/// A character belongs to a word when it is alphanumeric (or a combining mark following one), or
/// an apostrophe/hyphen joining two alphanumerics.
fn is_word_char(chars: &[(usize, char)], i: usize) -> bool {
    let c = chars[i].1;
    if c.is_alphanumeric() || is_mark(c) {
        return true;
    }
    if matches!(c, '\'' | '\u{2019}' | '-') && i > 0 && i + 1 < chars.len() {
        return chars[i - 1].1.is_alphanumeric() && chars[i + 1].1.is_alphanumeric();
    }
    false
}

/// Combining marks (the common blocks), so that decomposed accents stay inside their word.
fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_splits_on_unicode_whitespace() {
        let t = WordTokenizer::default();
        assert_eq!(t.tokenize("a  b\u{3000}c\td\n"), vec!["a", "b", "c", "d"]);
        assert_eq!(t.tokenize("Hello, world!"), vec!["Hello,", "world!"]);
    }

    #[test]
    fn split_and_strip_punctuation() {
        let split = WordTokenizer::new(true, Punctuation::Split);
        assert_eq!(
            split.tokenize("Don't stop, Zoë! well-known (x)"),
            vec![
                "don't",
                "stop",
                ",",
                "zoë",
                "!",
                "well-known",
                "(",
                "x",
                ")"
            ]
        );
        let strip = WordTokenizer::new(false, Punctuation::Strip);
        assert_eq!(strip.tokenize("«Привет», мир..."), vec!["Привет", "мир"]);
        assert_eq!(strip.tokenize("-- ..."), Vec::<String>::new());
    }

    #[test]
    fn lowercase_is_unicode_aware() {
        let t = WordTokenizer::new(true, Punctuation::Keep);
        assert_eq!(
            t.tokenize("ÉCOLE Straße ΣΟΦΙΑ"),
            vec!["école", "straße", "σοφια"]
        );
    }
}
