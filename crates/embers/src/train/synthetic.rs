//! A planted-structure corpus: sentences from templates over countries and capitals, male/female
//! pairs and singular/plural nouns, so that trained vectors can be checked on analogies whose
//! answers are known (king − man + woman = queen, paris − france + italy = rome).
//!
//! Every word of a pair gets two kinds of context: words tied to the pair's *identity* (the
//! language of a country and its capital, the throne of a king and a queen) and words tied to
//! the pair's *role* (city vs country words, he/his vs she/her, one/this vs many/these). A
//! model that learns from co-occurrence then places `b − a + c` next to `d`.

use crate::rng::Rng;

/// Countries, their capitals and a language/people word shared by both.
pub const CAPITALS: &[(&str, &str, &str)] = &[
    ("france", "paris", "french"),
    ("italy", "rome", "italian"),
    ("germany", "berlin", "german"),
    ("spain", "madrid", "spanish"),
    ("japan", "tokyo", "japanese"),
    ("china", "beijing", "chinese"),
    ("russia", "moscow", "russian"),
    ("egypt", "cairo", "egyptian"),
    ("greece", "athens", "greek"),
    ("poland", "warsaw", "polish"),
    ("sweden", "stockholm", "swedish"),
    ("portugal", "lisbon", "portuguese"),
];

/// Male/female pairs and two topic words shared by both members of a pair.
pub const GENDER: &[(&str, &str, &str, &str)] = &[
    ("king", "queen", "throne", "crown"),
    ("man", "woman", "adult", "office"),
    ("prince", "princess", "castle", "heir"),
    ("boy", "girl", "school", "playground"),
    ("father", "mother", "parent", "household"),
    ("son", "daughter", "firstborn", "cradle"),
    ("brother", "sister", "sibling", "twin"),
    ("uncle", "aunt", "relative", "visit"),
    ("husband", "wife", "wedding", "spouse"),
    ("actor", "actress", "stage", "film"),
];

/// Singular/plural nouns and two topic words shared by both forms.
pub const PLURAL: &[(&str, &str, &str, &str)] = &[
    ("car", "cars", "road", "engine"),
    ("dog", "dogs", "bark", "leash"),
    ("house", "houses", "roof", "door"),
    ("tree", "trees", "leaf", "forest"),
    ("book", "books", "page", "library"),
    ("bird", "birds", "wing", "nest"),
    ("apple", "apples", "orchard", "juice"),
    ("computer", "computers", "keyboard", "software"),
    ("river", "rivers", "bank", "water"),
    ("horse", "horses", "saddle", "stable"),
];

/// Words of no particular meaning mixed into sentences.
pub const FILLER: &[&str] = &[
    "the",
    "a",
    "and",
    "then",
    "very",
    "quite",
    "often",
    "today",
    "yesterday",
    "really",
    "also",
    "still",
    "just",
    "again",
    "perhaps",
    "indeed",
    "there",
    "here",
    "so",
    "well",
];

/// One analogy question `a : b :: c : d`, i.e. `d ≈ b − a + c` (the order of
/// `questions-words.txt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analogy {
    /// Relation name, as a `questions-words.txt` section.
    pub section: &'static str,
    pub a: &'static str,
    pub b: &'static str,
    pub c: &'static str,
    /// Expected answer.
    pub d: &'static str,
}

/// How much text to generate.
#[derive(Debug, Clone)]
pub struct SyntheticConfig {
    /// Seed of the generator; the same seed gives the same corpus.
    pub seed: u64,
    /// Number of sentences (lines).
    pub sentences: usize,
    /// Probability of inserting a filler word between two template words.
    pub filler_rate: f32,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            seed: 1,
            sentences: 30_000,
            filler_rate: 0.15,
        }
    }
}

const CITY_T: &[&str] = &[
    "{x} is a big city in {c}",
    "the mayor of {x} met {l} visitors",
    "we took the train to {x} downtown",
    "the streets of {x} were full of {l} people",
    "{x} has a famous old town and many {l} shops",
    "the city of {x} lies in {c}",
    "a tram runs through {x} downtown every hour",
];
const COUNTRY_T: &[&str] = &[
    "{x} is a large country with {l} people",
    "the president of {x} gave a {l} speech",
    "the nation of {x} has many borders",
    "{x} is a country whose capital is {p}",
    "the {l} government rules the whole country of {x}",
    "the population of {x} speaks {l}",
    "the country {x} signed a treaty",
];
const MALE_T: &[&str] = &[
    "the {x} said that he liked the {t}",
    "he is the {x} and his {u} is near",
    "the {x} lost his {t} and he was sad",
    "his name is known because he is a {x} of the {u}",
    "the {x} and his friends saw the {t}",
    "he became a {x} near the {u}",
];
const FEMALE_T: &[&str] = &[
    "the {x} said that she liked the {t}",
    "she is the {x} and her {u} is near",
    "the {x} lost her {t} and she was sad",
    "her name is known because she is a {x} of the {u}",
    "the {x} and her friends saw the {t}",
    "she became a {x} near the {u}",
];
const SINGULAR_T: &[&str] = &[
    "one {x} is near the {t}",
    "this {x} has a {u}",
    "a single {x} was by the {t}",
    "that {x} is alone with its {u}",
    "there is one {x} and it has a {t}",
    "each {x} is one of a kind near its {u}",
];
const PLURAL_T: &[&str] = &[
    "many {x} are near the {t}",
    "these {x} have a {u}",
    "several {x} were by the {t}",
    "those {x} are together with their {u}",
    "there are two {x} and they have a {t}",
    "all {x} are alike near their {u}",
];

/// Deterministic generator of planted-structure sentences.
pub struct Synthetic {
    rng: Rng,
    config: SyntheticConfig,
    produced: usize,
}

impl Synthetic {
    /// A generator for `config`.
    pub fn new(config: SyntheticConfig) -> Self {
        Synthetic {
            rng: Rng::new(config.seed),
            config,
            produced: 0,
        }
    }

    fn pick<'t>(&mut self, items: &'t [&'t str]) -> &'t str {
        items[self.rng.below(items.len() as u64) as usize]
    }

    /// The next sentence, as lowercase space-separated words.
    pub fn sentence(&mut self) -> String {
        let kind = self.rng.below(3);
        let second = self.rng.below(2) == 1;
        let (template, vars): (&str, [(&str, &str); 4]) = match kind {
            0 => {
                let (c, p, l) = CAPITALS[self.rng.below(CAPITALS.len() as u64) as usize];
                let t = if second {
                    self.pick(CITY_T)
                } else {
                    self.pick(COUNTRY_T)
                };
                let x = if second { p } else { c };
                (t, [("x", x), ("c", c), ("l", l), ("p", p)])
            }
            1 => {
                let (m, f, t1, t2) = GENDER[self.rng.below(GENDER.len() as u64) as usize];
                let (t, x) = if second {
                    (self.pick(FEMALE_T), f)
                } else {
                    (self.pick(MALE_T), m)
                };
                (t, [("x", x), ("t", t1), ("u", t2), ("", "")])
            }
            _ => {
                let (s, p, t1, t2) = PLURAL[self.rng.below(PLURAL.len() as u64) as usize];
                let (t, x) = if second {
                    (self.pick(PLURAL_T), p)
                } else {
                    (self.pick(SINGULAR_T), s)
                };
                (t, [("x", x), ("t", t1), ("u", t2), ("", "")])
            }
        };
        let mut out = String::with_capacity(80);
        for word in template.split(' ') {
            let word = match word.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                Some(name) => vars
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| *v)
                    .unwrap_or(word),
                None => word,
            };
            if !out.is_empty() {
                out.push(' ');
                if self.rng.uniform() < self.config.filler_rate {
                    out.push_str(self.pick(FILLER));
                    out.push(' ');
                }
            }
            out.push_str(word);
        }
        self.produced += 1;
        out
    }

    /// The whole corpus, one sentence per line (each line ends with `\n`).
    pub fn text(config: SyntheticConfig) -> String {
        let n = config.sentences;
        let mut g = Synthetic::new(config);
        let mut s = String::with_capacity(n * 48);
        for _ in 0..n {
            s.push_str(&g.sentence());
            s.push('\n');
        }
        s
    }

    /// Writes the corpus to `path` atomically.
    pub fn write(config: SyntheticConfig, path: &std::path::Path) -> crate::Result<()> {
        let text = Synthetic::text(config);
        let mut file = crate::io::atomic::AtomicFile::create(path)?;
        file.write_all(text.as_bytes())?;
        file.commit()
    }
}

impl Iterator for Synthetic {
    type Item = String;
    fn next(&mut self) -> Option<String> {
        (self.produced < self.config.sentences).then(|| self.sentence())
    }
}

/// All planted analogy questions: every ordered pair of distinct pairs within each relation.
pub fn analogies() -> Vec<Analogy> {
    let mut out = Vec::new();
    let mut add = |section: &'static str, pairs: Vec<(&'static str, &'static str)>| {
        for (i, &(a, b)) in pairs.iter().enumerate() {
            for (j, &(c, d)) in pairs.iter().enumerate() {
                if i != j {
                    out.push(Analogy {
                        section,
                        a,
                        b,
                        c,
                        d,
                    });
                }
            }
        }
    };
    add(
        "capital-country",
        CAPITALS.iter().map(|&(c, p, _)| (c, p)).collect(),
    );
    add(
        "gender",
        GENDER.iter().map(|&(m, f, _, _)| (m, f)).collect(),
    );
    add(
        "plural",
        PLURAL.iter().map(|&(s, p, _, _)| (s, p)).collect(),
    );
    out
}

/// The questions in `questions-words.txt` layout (`: section` lines, then `a b c d`), for tools
/// such as gensim's `evaluate_word_analogies`.
pub fn questions_words() -> String {
    let mut s = String::new();
    let mut section = "";
    for q in analogies() {
        if q.section != section {
            section = q.section;
            s.push_str(&format!(": {section}\n"));
        }
        s.push_str(&format!("{} {} {} {}\n", q.a, q.b, q.c, q.d));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn deterministic_and_planted_words_cooccur_with_their_roles() {
        let cfg = SyntheticConfig {
            sentences: 3000,
            ..Default::default()
        };
        let a = Synthetic::text(cfg.clone());
        assert_eq!(a, Synthetic::text(cfg.clone()));
        assert_ne!(
            a,
            Synthetic::text(SyntheticConfig {
                seed: 2,
                ..cfg.clone()
            })
        );
        assert_eq!(a.lines().count(), 3000);
        assert_eq!(Synthetic::new(cfg).count(), 3000);
        // Counts: every planted word appears, and role words go with the right member.
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for line in a.lines() {
            let words: Vec<&str> = line.split(' ').collect();
            for w in &words {
                *counts.entry(w).or_default() += 1;
            }
            if words.contains(&"queen") {
                assert!(!words.contains(&"he") && !words.contains(&"his"), "{line}");
            }
            if words.contains(&"rome") {
                assert!(
                    !words.contains(&"country") || words.contains(&"italy"),
                    "{line}"
                );
            }
        }
        for q in analogies() {
            for w in [q.a, q.b, q.c, q.d] {
                assert!(counts.get(w).copied().unwrap_or(0) >= 10, "{w} too rare");
            }
        }
        // 12·11 + 10·9 + 10·9 questions.
        assert_eq!(analogies().len(), 132 + 90 + 90);
        let qw = questions_words();
        assert!(qw.starts_with(": capital-country\nfrance paris italy rome\n"));
        assert!(qw.contains("\nman woman king queen\n"));
    }
}
