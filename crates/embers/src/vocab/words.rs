//! The tokens of a vocabulary stored back to back in one string with their offsets: two
//! allocations for the whole list instead of one per token, and the same layout as the
//! `vocab.bytes` / `vocab.offsets` tensors of the native format.

use std::fmt;
use std::ops::Index;

/// A list of tokens in id order, kept as one string and `len() + 1` offsets into it
/// (token `i` is `text[offset(i)..offset(i + 1)]`). The offsets take 4 bytes each while the
/// text stays under 4 GiB, and widen to 8 bytes past that.
#[derive(Clone)]
pub struct WordList {
    text: String,
    offsets: Offsets,
}

/// Token offsets, narrow while they fit in 32 bits.
#[derive(Clone)]
enum Offsets {
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl Offsets {
    #[inline]
    fn len(&self) -> usize {
        match self {
            Offsets::Narrow(v) => v.len(),
            Offsets::Wide(v) => v.len(),
        }
    }

    #[inline]
    fn get(&self, i: usize) -> Option<usize> {
        match self {
            Offsets::Narrow(v) => v.get(i).map(|&o| o as usize),
            Offsets::Wide(v) => v.get(i).map(|&o| o as usize),
        }
    }

    fn push(&mut self, o: usize) {
        match self {
            Offsets::Narrow(v) => match u32::try_from(o) {
                Ok(o) => v.push(o),
                Err(_) => {
                    let mut wide = Vec::with_capacity(v.capacity().max(v.len() + 1));
                    wide.extend(v.iter().map(|&o| u64::from(o)));
                    wide.push(o as u64);
                    *self = Offsets::Wide(wide);
                }
            },
            Offsets::Wide(v) => v.push(o as u64),
        }
    }

    fn truncate(&mut self, n: usize) {
        match self {
            Offsets::Narrow(v) => v.truncate(n),
            Offsets::Wide(v) => v.truncate(n),
        }
    }

    fn reserve(&mut self, n: usize) {
        match self {
            Offsets::Narrow(v) => v.reserve(n),
            Offsets::Wide(v) => v.reserve(n),
        }
    }

    fn shrink_to_fit(&mut self) {
        match self {
            Offsets::Narrow(v) => v.shrink_to_fit(),
            Offsets::Wide(v) => v.shrink_to_fit(),
        }
    }

    /// Offsets from a file's 64-bit values, narrowed when the last one fits.
    fn from_wide(v: Vec<u64>) -> Self {
        if v.last().is_none_or(|&o| o <= u64::from(u32::MAX)) {
            Offsets::Narrow(v.into_iter().map(|o| o as u32).collect())
        } else {
            Offsets::Wide(v)
        }
    }
}

impl PartialEq for WordList {
    fn eq(&self, other: &WordList) -> bool {
        self.text == other.text && self.offsets().eq(other.offsets())
    }
}

impl Eq for WordList {}

impl Default for WordList {
    fn default() -> Self {
        WordList::new()
    }
}

impl WordList {
    /// An empty list.
    pub fn new() -> Self {
        WordList {
            text: String::new(),
            offsets: Offsets::Narrow(vec![0]),
        }
    }

    /// An empty list with room for `words` tokens of `bytes` bytes in all.
    pub fn with_capacity(words: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(words + 1);
        offsets.push(0);
        WordList {
            text: String::with_capacity(bytes),
            offsets: Offsets::Narrow(offsets),
        }
    }

    /// A list from the concatenated `text` and its offsets, which must start at 0, never
    /// decrease, end at `text.len()` and fall on character boundaries; `None` otherwise.
    pub fn from_parts(text: String, offsets: Vec<u64>) -> Option<Self> {
        check_offsets(text.as_bytes(), &offsets).ok()?;
        Some(WordList {
            text,
            offsets: Offsets::from_wide(offsets),
        })
    }

    /// Like [`WordList::from_parts`] from raw bytes (as stored in a file), saying what is wrong:
    /// the checks run in the order of [`PartsError`]'s variants.
    pub fn from_utf8_parts(bytes: &[u8], offsets: Vec<u64>) -> Result<Self, PartsError> {
        let text = check_offsets(bytes, &offsets)?;
        Ok(WordList {
            text: text.to_owned(),
            offsets: Offsets::from_wide(offsets),
        })
    }

    /// Appends a token.
    pub fn push(&mut self, word: &str) {
        self.text.push_str(word);
        self.offsets.push(self.text.len());
    }

    /// Removes and forgets the last token, if any.
    pub fn pop(&mut self) {
        if !self.is_empty() {
            self.truncate(self.len() - 1);
        }
    }

    /// Appends every token of `other`.
    pub fn append(&mut self, other: &WordList) {
        let base = self.text.len();
        self.text.push_str(&other.text);
        self.offsets.reserve(other.len());
        for i in 1..other.offsets.len() {
            self.offsets.push(base + other.offset(i));
        }
    }

    /// Keeps the first `n` tokens.
    pub fn truncate(&mut self, n: usize) {
        if n < self.len() {
            self.offsets.truncate(n + 1);
            self.text.truncate(self.offset(n));
        }
    }

    /// Frees unused capacity.
    pub fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.offsets.shrink_to_fit();
    }

    /// Number of tokens.
    #[inline]
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// True when the list has no tokens.
    pub fn is_empty(&self) -> bool {
        self.offsets.len() == 1
    }

    /// Token `i`, if there is one.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = self.offsets.get(i + 1)?;
        Some(&self.text[self.offset(i)..end])
    }

    /// The tokens in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            list: self,
            front: 0,
            back: self.len(),
        }
    }

    /// All tokens concatenated.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Where token `i` starts in [`WordList::text`]; `offset(len())` is the text's length.
    /// Panics when `i > len()`.
    #[inline]
    pub fn offset(&self, i: usize) -> usize {
        match self.offsets.get(i) {
            Some(o) => o,
            None => panic!("offset {i} out of range for a list of {}", self.len()),
        }
    }

    /// The `len() + 1` offsets of the tokens in [`WordList::text`], as stored in the native
    /// format's `vocab.offsets`.
    pub fn offsets(&self) -> impl ExactSizeIterator<Item = u64> + '_ {
        (0..self.offsets.len()).map(|i| self.offset(i) as u64)
    }

    /// The tokens as owned strings.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

/// Why concatenated bytes and offsets do not form a [`WordList`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartsError {
    /// The offsets are empty, do not start at 0 or do not end at the length of the bytes.
    Span,
    /// The offset after token `.0` is smaller than its start.
    Decrease(usize),
    /// Token `.0` holds the first byte that is not valid UTF-8.
    Utf8(usize),
    /// Token `.0` starts inside a multi-byte character.
    Boundary(usize),
}

/// The checks of [`WordList::from_utf8_parts`]; returns the bytes as text.
fn check_offsets<'a>(bytes: &'a [u8], offsets: &[u64]) -> Result<&'a str, PartsError> {
    if offsets.first() != Some(&0) || offsets.last() != Some(&(bytes.len() as u64)) {
        return Err(PartsError::Span);
    }
    if let Some(i) = offsets.windows(2).position(|w| w[0] > w[1]) {
        return Err(PartsError::Decrease(i));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to() as u64;
        PartsError::Utf8(offsets.partition_point(|&o| o <= at).saturating_sub(1))
    })?;
    match offsets
        .iter()
        .position(|&o| !text.is_char_boundary(o as usize))
    {
        Some(i) => Err(PartsError::Boundary(i)),
        None => Ok(text),
    }
}

impl Index<usize> for WordList {
    type Output = str;
    fn index(&self, i: usize) -> &str {
        match self.get(i) {
            Some(w) => w,
            None => panic!("token {i} out of range for a list of {}", self.len()),
        }
    }
}

impl fmt::Debug for WordList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<S: AsRef<str>> FromIterator<S> for WordList {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut list = WordList::new();
        for w in iter {
            list.push(w.as_ref());
        }
        list
    }
}

impl<S: AsRef<str>> PartialEq<[S]> for WordList {
    fn eq(&self, other: &[S]) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_ref())
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for WordList {
    fn eq(&self, other: &[S; N]) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for WordList {
    fn eq(&self, other: &Vec<S>) -> bool {
        *self == other[..]
    }
}

impl<'a> IntoIterator for &'a WordList {
    type Item = &'a str;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over the tokens of a [`WordList`].
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    list: &'a WordList,
    front: usize,
    back: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        if self.front == self.back {
            return None;
        }
        self.front += 1;
        self.list.get(self.front - 1)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
    fn nth(&mut self, n: usize) -> Option<&'a str> {
        self.front = self.front.saturating_add(n).min(self.back);
        self.next()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        self.list.get(self.back)
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pop_append_truncate() {
        let mut a: WordList = ["new york", "猫", "x"].into_iter().collect();
        assert_eq!(a.len(), 3);
        assert_eq!(&a[1], "猫");
        assert_eq!(a.get(3), None);
        assert_eq!(a.iter().rev().collect::<Vec<_>>(), ["x", "猫", "new york"]);
        assert_eq!(a.iter().nth(2), Some("x"));
        a.pop();
        assert_eq!(a, ["new york", "猫"]);
        let b: WordList = ["y", "zz"].into_iter().collect();
        a.append(&b);
        assert_eq!(a, ["new york", "猫", "y", "zz"]);
        assert_eq!(a.offsets().collect::<Vec<_>>(), [0, 8, 11, 12, 14]);
        a.truncate(1);
        assert_eq!(a.text(), "new york");
        assert_eq!(format!("{a:?}"), r#"["new york"]"#);
        let mut e = WordList::new();
        e.pop();
        assert!(e.is_empty());
    }

    #[test]
    fn offsets_widen_past_4_gib() {
        let mut o = Offsets::Narrow(vec![0, 7]);
        o.push(u32::MAX as usize);
        assert!(matches!(o, Offsets::Narrow(_)));
        o.push(u32::MAX as usize + 1);
        assert!(matches!(o, Offsets::Wide(_)));
        assert_eq!(
            (0..o.len()).map(|i| o.get(i).unwrap()).collect::<Vec<_>>(),
            [0, 7, u32::MAX as usize, u32::MAX as usize + 1]
        );
        o.truncate(2);
        assert_eq!(o.get(1), Some(7));
        assert!(matches!(
            Offsets::from_wide(vec![0, 1 << 32]),
            Offsets::Wide(_)
        ));
        // A narrow and a wide list of the same tokens are equal.
        let narrow: WordList = ["a", "bc"].into_iter().collect();
        let wide = WordList {
            text: "abc".into(),
            offsets: Offsets::Wide(vec![0, 1, 3]),
        };
        assert_eq!(narrow, wide);
    }

    #[test]
    fn from_parts_checks_offsets() {
        let ok = WordList::from_parts("ab猫".into(), vec![0, 1, 2, 5]).unwrap();
        assert_eq!(ok, ["a", "b", "猫"]);
        assert!(WordList::from_parts("ab".into(), vec![0, 2, 1]).is_none());
        assert!(WordList::from_parts("ab".into(), vec![1, 2]).is_none());
        assert!(WordList::from_parts("ab".into(), vec![0, 1]).is_none());
        assert!(WordList::from_parts("猫".into(), vec![0, 1, 3]).is_none());
        assert!(WordList::from_parts(String::new(), vec![]).is_none());
        let err = |b: &[u8], o: Vec<u64>| WordList::from_utf8_parts(b, o).unwrap_err();
        assert_eq!(err(b"ab", vec![0, 1]), PartsError::Span);
        assert_eq!(err(b"abc", vec![0, 2, 1, 3]), PartsError::Decrease(1));
        assert_eq!(err(b"ab\xff", vec![0, 2, 3]), PartsError::Utf8(1));
        assert_eq!(
            err("a猫".as_bytes(), vec![0, 2, 4]),
            PartsError::Boundary(1)
        );
        assert_eq!(
            WordList::from_utf8_parts("a猫".as_bytes(), vec![0, 1, 4]).unwrap(),
            ["a", "猫"]
        );
    }
}
