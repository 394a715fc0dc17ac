use std::fmt;

/// The most toppings one pizza may carry.
pub const MAX_TOPPINGS: usize = 5;

/// Words that join toppings in speech and carry no topping themselves, in
/// every [`Language`].
const FILLER_WORDS: &[&str] = &[
    "and", "with", "plus", "some", "a", "an", "the", "also", // English
    "und", "mit", "ein", "eine", "einer", "etwas", "auch", "noch", "dazu", // German
];

/// Words after a size that say nothing more ("large size", "große Pizza").
const SIZE_TRAILERS: &[&str] = &["size", "pizza", "größe", "grösse"];

/// A language pizzas are ordered in. Parsing understands the words of every
/// language at once (a slot value is whatever the person said); an
/// interaction model lists the words of its own language
/// ([`PizzaSize::words`], [`Topping::words`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// English: the canonical names and their synonyms.
    English,
    /// German.
    German,
}

impl Language {
    /// Every language.
    pub const ALL: [Language; 2] = [Language::English, Language::German];
}

/// How one language says a size or a topping: the value an interaction
/// model lists, and its synonyms. All lowercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Words {
    /// The value ("large", "groß").
    pub value: &'static str,
    /// Other words for it ("big"; "große", "gross").
    pub synonyms: &'static [&'static str],
}

impl Words {
    /// The value, then the synonyms.
    pub fn all(&self) -> impl Iterator<Item = &'static str> + use<> {
        std::iter::once(self.value).chain(self.synonyms.iter().copied())
    }

    fn contains(&self, phrase: &str) -> bool {
        self.value == phrase || self.synonyms.contains(&phrase)
    }
}

/// The longest synonym, in words ("extra large", "green bell peppers").
const LONGEST_SYNONYM_WORDS: usize = 3;

/// How big the pizza is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PizzaSize {
    /// Small.
    Small,
    /// Medium, the default.
    Medium,
    /// Large.
    Large,
    /// Jumbo.
    Jumbo,
}

impl PizzaSize {
    /// Every size, smallest first.
    pub const ALL: [PizzaSize; 4] = [
        PizzaSize::Small,
        PizzaSize::Medium,
        PizzaSize::Large,
        PizzaSize::Jumbo,
    ];

    /// The canonical lowercase name, stable for storage and the interaction model.
    pub fn name(self) -> &'static str {
        match self {
            PizzaSize::Small => "small",
            PizzaSize::Medium => "medium",
            PizzaSize::Large => "large",
            PizzaSize::Jumbo => "jumbo",
        }
    }

    /// Other English words a person may say for this size.
    pub fn synonyms(self) -> &'static [&'static str] {
        self.words(Language::English).synonyms
    }

    /// How `language` says this size; English's value is [`PizzaSize::name`].
    pub fn words(self, language: Language) -> Words {
        let (value, synonyms): (&'static str, &'static [&'static str]) = match (language, self) {
            (Language::English, PizzaSize::Small) => ("small", &["little", "personal"]),
            (Language::English, PizzaSize::Medium) => ("medium", &["regular", "normal"]),
            (Language::English, PizzaSize::Large) => ("large", &["big"]),
            (Language::English, PizzaSize::Jumbo) => ("jumbo", &["extra large", "huge", "family"]),
            (Language::German, PizzaSize::Small) => ("klein", &["kleine", "kleinen", "kleiner"]),
            (Language::German, PizzaSize::Medium) => (
                "mittel",
                &[
                    "mittlere",
                    "mittleren",
                    "mittelgroß",
                    "mittelgroße",
                    "normale",
                ],
            ),
            (Language::German, PizzaSize::Large) => {
                ("groß", &["große", "großen", "gross", "grosse"])
            }
            (Language::German, PizzaSize::Jumbo) => (
                "jumbo",
                &[
                    "riesig",
                    "riesige",
                    "riesigen",
                    "extra groß",
                    "extra große",
                    "familiengröße",
                ],
            ),
        };
        Words { value, synonyms }
    }

    /// Parses a spoken size: case-insensitive, the words of every
    /// [`Language`] allowed, a trailing "size" or "pizza" ("Größe",
    /// "Pizza") ignored.
    pub fn parse(spoken: &str) -> Result<Self, PizzaError> {
        let words = normalized_words(spoken);
        let trimmed: Vec<&str> = match words.as_slice() {
            [rest @ .., last] if !rest.is_empty() && SIZE_TRAILERS.contains(&last.as_str()) => {
                rest.iter().map(String::as_str).collect()
            }
            all => all.iter().map(String::as_str).collect(),
        };
        let phrase = trimmed.join(" ");
        PizzaSize::ALL
            .into_iter()
            .find(|size| {
                Language::ALL
                    .into_iter()
                    .any(|language| size.words(language).contains(&phrase))
            })
            .ok_or_else(|| PizzaError::UnknownSize(spoken.trim().to_owned()))
    }
}

impl fmt::Display for PizzaSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Something on a pizza.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Topping {
    Pepperoni,
    Mushrooms,
    Onions,
    Sausage,
    Bacon,
    ExtraCheese,
    BlackOlives,
    GreenPeppers,
    Pineapple,
    Spinach,
    Chicken,
    Ham,
}

impl Topping {
    /// Every topping: the original skill's list, then ham.
    pub const ALL: [Topping; 12] = [
        Topping::Pepperoni,
        Topping::Mushrooms,
        Topping::Onions,
        Topping::Sausage,
        Topping::Bacon,
        Topping::ExtraCheese,
        Topping::BlackOlives,
        Topping::GreenPeppers,
        Topping::Pineapple,
        Topping::Spinach,
        Topping::Chicken,
        Topping::Ham,
    ];

    /// The toppings of a pizza ordered without naming any: the original's
    /// ham, bacon and pineapple.
    pub const DEFAULT: [Topping; 3] = [Topping::Ham, Topping::Bacon, Topping::Pineapple];

    /// The canonical lowercase name, stable for storage and the interaction model.
    pub fn name(self) -> &'static str {
        match self {
            Topping::Pepperoni => "pepperoni",
            Topping::Mushrooms => "mushrooms",
            Topping::Onions => "onions",
            Topping::Sausage => "sausage",
            Topping::Bacon => "bacon",
            Topping::ExtraCheese => "extra cheese",
            Topping::BlackOlives => "black olives",
            Topping::GreenPeppers => "green peppers",
            Topping::Pineapple => "pineapple",
            Topping::Spinach => "spinach",
            Topping::Chicken => "chicken",
            Topping::Ham => "ham",
        }
    }

    /// Other English words a person may say for this topping.
    pub fn synonyms(self) -> &'static [&'static str] {
        self.words(Language::English).synonyms
    }

    /// How `language` says this topping; English's value is
    /// [`Topping::name`].
    pub fn words(self, language: Language) -> Words {
        use Topping::*;
        let (value, synonyms): (&'static str, &'static [&'static str]) = match language {
            Language::English => match self {
                Pepperoni => ("pepperoni", &["pepperonis", "salami"]),
                Mushrooms => ("mushrooms", &["mushroom"]),
                Onions => ("onions", &["onion", "red onions"]),
                Sausage => ("sausage", &["sausages", "italian sausage"]),
                Bacon => ("bacon", &["bacon bits"]),
                ExtraCheese => ("extra cheese", &["cheese", "double cheese", "more cheese"]),
                BlackOlives => ("black olives", &["olives", "olive", "black olive"]),
                GreenPeppers => (
                    "green peppers",
                    &["peppers", "pepper", "green pepper", "bell peppers"],
                ),
                Pineapple => ("pineapple", &["pineapples"]),
                Spinach => ("spinach", &["baby spinach"]),
                Chicken => ("chicken", &["grilled chicken"]),
                Ham => ("ham", &["prosciutto"]),
            },
            Language::German => match self {
                Pepperoni => ("salami", &["peperoni", "pepperoni", "peperonisalami"]),
                Mushrooms => ("pilze", &["pilzen", "pilz", "champignons", "champignon"]),
                Onions => ("zwiebeln", &["zwiebel", "rote zwiebeln", "roten zwiebeln"]),
                Sausage => (
                    "salsiccia",
                    &["wurst", "italienische wurst", "italienischer wurst"],
                ),
                Bacon => ("speck", &["bacon", "speckwürfel"]),
                ExtraCheese => ("extra käse", &["käse", "doppelt käse", "mehr käse"]),
                BlackOlives => ("schwarze oliven", &["oliven", "olive", "schwarzen oliven"]),
                GreenPeppers => (
                    "grüne paprika",
                    &["paprika", "grüner paprika", "paprikaschoten"],
                ),
                Pineapple => ("ananas", &[]),
                Spinach => ("spinat", &["blattspinat"]),
                Chicken => ("hähnchen", &["hühnchen", "hähnchenbrust", "huhn"]),
                Ham => ("schinken", &["kochschinken", "prosciutto"]),
            },
        };
        Words { value, synonyms }
    }

    /// The inverse of [`Topping::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Topping::ALL.into_iter().find(|t| t.name() == name)
    }

    fn matching(phrase: &str) -> Option<Self> {
        Topping::ALL.into_iter().find(|t| {
            Language::ALL
                .into_iter()
                .any(|language| t.words(language).contains(phrase))
        })
    }
}

impl fmt::Display for Topping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a spoken pizza could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PizzaError {
    /// The size is not one pod knows; carries what was said.
    UnknownSize(String),
    /// A topping is not one pod knows; carries the words that matched nothing.
    UnknownTopping(String),
    /// More than [`MAX_TOPPINGS`] different toppings.
    TooManyToppings {
        /// How many different toppings were asked for.
        count: usize,
    },
}

impl fmt::Display for PizzaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PizzaError::UnknownSize(s) => write!(f, "I don't know the size {s}"),
            PizzaError::UnknownTopping(t) => write!(f, "I don't know the topping {t}"),
            PizzaError::TooManyToppings { count } => {
                write!(
                    f,
                    "{count} toppings is too many; the most is {MAX_TOPPINGS}"
                )
            }
        }
    }
}

impl std::error::Error for PizzaError {}

/// A pizza: a size and up to [`MAX_TOPPINGS`] different toppings, in the order
/// they were asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pizza {
    size: PizzaSize,
    toppings: Vec<Topping>,
}

impl Pizza {
    /// A pizza from a size and toppings; duplicates are dropped (the first
    /// mention keeps its place).
    pub fn new(
        size: PizzaSize,
        toppings: impl IntoIterator<Item = Topping>,
    ) -> Result<Self, PizzaError> {
        let mut unique = Vec::new();
        for topping in toppings {
            if !unique.contains(&topping) {
                unique.push(topping);
            }
        }
        if unique.len() > MAX_TOPPINGS {
            return Err(PizzaError::TooManyToppings {
                count: unique.len(),
            });
        }
        Ok(Pizza {
            size,
            toppings: unique,
        })
    }

    /// The pizza from the Alexa slots `Size` and `Toppings`. An empty or
    /// missing slot takes the default: medium; ham, bacon and pineapple.
    pub fn from_spoken(size: Option<&str>, toppings: Option<&str>) -> Result<Self, PizzaError> {
        let size = match size.map(str::trim).filter(|s| !s.is_empty()) {
            Some(spoken) => PizzaSize::parse(spoken)?,
            None => PizzaSize::Medium,
        };
        let toppings = match toppings.map(str::trim).filter(|s| !s.is_empty()) {
            Some(spoken) => parse_toppings(spoken)?,
            None => Topping::DEFAULT.to_vec(),
        };
        Pizza::new(size, toppings)
    }

    /// The size.
    pub fn size(&self) -> PizzaSize {
        self.size
    }

    /// The toppings, in the order they were asked for.
    pub fn toppings(&self) -> &[Topping] {
        &self.toppings
    }

    /// The toppings as a person would say them: "ham, bacon and pineapple".
    /// [`Pizza::from_spoken`] parses this back to the same toppings.
    pub fn spoken_toppings(&self) -> String {
        let names: Vec<&str> = self.toppings.iter().map(|t| t.name()).collect();
        match names.as_slice() {
            [] => String::new(),
            [one] => (*one).to_owned(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        }
    }
}

impl fmt::Display for Pizza {
    /// "a large pizza with pepperoni and mushrooms".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.toppings.is_empty() {
            write!(f, "a {} pizza", self.size)
        } else {
            write!(f, "a {} pizza with {}", self.size, self.spoken_toppings())
        }
    }
}

/// Lowercase words, with commas, ampersands and slashes taken as separators.
fn normalized_words(spoken: &str) -> Vec<String> {
    spoken
        .to_lowercase()
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '&' | '/' | ';' | '.' | '+'))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses "ham, bacon and pineapple" into toppings: the longest known phrase
/// wins at each position ("extra cheese" before "cheese"), filler words are
/// skipped, and anything else is an error naming the unknown words.
fn parse_toppings(spoken: &str) -> Result<Vec<Topping>, PizzaError> {
    let words = normalized_words(spoken);
    let mut toppings = Vec::new();
    let mut unknown: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let longest = (1..=LONGEST_SYNONYM_WORDS.min(words.len() - i))
            .rev()
            .find_map(|n| Topping::matching(&words[i..i + n].join(" ")).map(|t| (t, n)));
        match longest {
            Some((topping, n)) => {
                if !unknown.is_empty() {
                    break;
                }
                toppings.push(topping);
                i += n;
            }
            None if FILLER_WORDS.contains(&words[i].as_str()) => {
                if !unknown.is_empty() {
                    break;
                }
                i += 1;
            }
            None => {
                unknown.push(&words[i]);
                i += 1;
            }
        }
    }
    if !unknown.is_empty() {
        // Name the whole unknown run ("goat cheese" rather than "goat").
        return Err(PizzaError::UnknownTopping(unknown.join(" ")));
    }
    Ok(toppings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn toppings(spoken: &str) -> Result<Vec<Topping>, PizzaError> {
        Pizza::from_spoken(None, Some(spoken)).map(|p| p.toppings().to_vec())
    }

    #[test]
    fn sizes_parse_with_synonyms_and_any_case() {
        let cases = [
            ("small", PizzaSize::Small),
            ("Big", PizzaSize::Large),
            ("LARGE", PizzaSize::Large),
            ("regular", PizzaSize::Medium),
            ("extra large", PizzaSize::Jumbo),
            ("jumbo size", PizzaSize::Jumbo),
            (" medium ", PizzaSize::Medium),
        ];
        for (spoken, expected) in cases {
            assert_eq!(PizzaSize::parse(spoken), Ok(expected), "{spoken}");
        }
        assert_eq!(
            PizzaSize::parse("gigantic"),
            Err(PizzaError::UnknownSize("gigantic".into()))
        );
    }

    #[test]
    fn toppings_parse_from_phrases() {
        use Topping::*;
        let cases: &[(&str, &[Topping])] = &[
            ("pepperoni", &[Pepperoni]),
            ("pepperoni and mushrooms", &[Pepperoni, Mushrooms]),
            ("ham, bacon and pineapple", &[Ham, Bacon, Pineapple]),
            ("Extra Cheese", &[ExtraCheese]),
            ("cheese", &[ExtraCheese]),
            ("peppers & onions", &[GreenPeppers, Onions]),
            ("black olives, green peppers", &[BlackOlives, GreenPeppers]),
            ("ham and ham and HAM", &[Ham]),
            ("with some chicken", &[Chicken]),
        ];
        for (spoken, expected) in cases {
            assert_eq!(toppings(spoken).as_deref(), Ok(*expected), "{spoken}");
        }
    }

    #[test]
    fn unknown_toppings_are_named() {
        assert_eq!(
            toppings("ham and anchovies"),
            Err(PizzaError::UnknownTopping("anchovies".into()))
        );
        assert_eq!(
            toppings("goat cheese"),
            Err(PizzaError::UnknownTopping("goat".into())),
            "an unknown word before a known one is named on its own"
        );
        assert_eq!(
            toppings("anchovy paste"),
            Err(PizzaError::UnknownTopping("anchovy paste".into()))
        );
        assert_eq!(
            toppings("anchovy and ham"),
            Err(PizzaError::UnknownTopping("anchovy".into()))
        );
    }

    #[test]
    fn at_most_five_different_toppings() {
        assert_eq!(
            toppings("ham bacon pineapple chicken spinach onions"),
            Err(PizzaError::TooManyToppings { count: 6 })
        );
        assert_eq!(
            toppings("ham bacon pineapple chicken spinach ham")
                .unwrap()
                .len(),
            5
        );
    }

    #[test]
    fn empty_slots_take_the_original_defaults() {
        let pizza = Pizza::from_spoken(None, Some("  ")).unwrap();
        assert_eq!(pizza.size(), PizzaSize::Medium);
        assert_eq!(pizza.toppings(), &Topping::DEFAULT);
        assert_eq!(
            pizza.to_string(),
            "a medium pizza with ham, bacon and pineapple"
        );
    }

    #[test]
    fn names_and_synonyms_are_unique_across_toppings() {
        // Within a language a phrase names one topping; across languages a
        // phrase may repeat ("prosciutto"), but only for the same topping.
        let mut meaning = std::collections::HashMap::new();
        for language in Language::ALL {
            let mut seen = std::collections::HashSet::new();
            for t in Topping::ALL {
                let words = t.words(language);
                for phrase in words.all() {
                    assert!(
                        seen.insert(phrase),
                        "{phrase} is used twice in {language:?}"
                    );
                    assert_eq!(*meaning.entry(phrase).or_insert(t), t, "{phrase}");
                    assert_eq!(phrase, phrase.to_lowercase(), "{phrase}");
                    assert!(phrase.split(' ').count() <= LONGEST_SYNONYM_WORDS);
                    assert!(!FILLER_WORDS.contains(&phrase), "{phrase}");
                    assert_eq!(Topping::matching(phrase), Some(t));
                }
            }
            let mut sizes = std::collections::HashSet::new();
            for size in PizzaSize::ALL {
                for phrase in size.words(language).all() {
                    assert!(
                        sizes.insert(phrase),
                        "{phrase} is used twice in {language:?}"
                    );
                    assert_eq!(PizzaSize::parse(phrase), Ok(size), "{phrase}");
                }
            }
        }
        assert_eq!(Topping::Ham.words(Language::English).value, "ham");
        for size in PizzaSize::ALL {
            assert_eq!(size.words(Language::English).value, size.name());
        }
        for t in Topping::ALL {
            assert_eq!(t.words(Language::English).value, t.name());
        }
    }

    #[test]
    fn german_sizes_and_toppings_parse_to_the_canonical_pizza() {
        use Topping::*;
        let cases: &[(&str, &str, PizzaSize, &[Topping])] = &[
            ("groß", "Salami", PizzaSize::Large, &[Pepperoni]),
            (
                "große",
                "Salami und Pilze",
                PizzaSize::Large,
                &[Pepperoni, Mushrooms],
            ),
            (
                "Gross",
                "Peperoni mit Champignons",
                PizzaSize::Large,
                &[Pepperoni, Mushrooms],
            ),
            (
                "klein",
                "Schinken, Zwiebeln und Oliven",
                PizzaSize::Small,
                &[Ham, Onions, BlackOlives],
            ),
            ("kleine Pizza", "Paprika", PizzaSize::Small, &[GreenPeppers]),
            (
                "mittel",
                "extra Käse und Ananas",
                PizzaSize::Medium,
                &[ExtraCheese, Pineapple],
            ),
            (
                "mittlere Größe",
                "Speck, Spinat und Hähnchen",
                PizzaSize::Medium,
                &[Bacon, Spinach, Chicken],
            ),
            (
                "extra groß",
                "schwarze Oliven und grüne Paprika",
                PizzaSize::Jumbo,
                &[BlackOlives, GreenPeppers],
            ),
            (
                "riesige",
                "Salsiccia und rote Zwiebeln",
                PizzaSize::Jumbo,
                &[Sausage, Onions],
            ),
            (
                "Jumbo",
                "mit Salami und Pilzen",
                PizzaSize::Jumbo,
                &[Pepperoni, Mushrooms],
            ),
        ];
        for (size, toppings, expected_size, expected_toppings) in cases {
            let pizza = Pizza::from_spoken(Some(size), Some(toppings)).unwrap();
            assert_eq!(pizza.size(), *expected_size, "{size}");
            assert_eq!(pizza.toppings(), *expected_toppings, "{toppings}");
        }
        assert_eq!(
            toppings("Salami und Sardellen"),
            Err(PizzaError::UnknownTopping("sardellen".into()))
        );
    }

    fn any_pizza() -> impl Strategy<Value = Pizza> {
        (
            proptest::sample::select(PizzaSize::ALL.to_vec()),
            proptest::sample::subsequence(Topping::ALL.to_vec(), 0..=MAX_TOPPINGS).prop_shuffle(),
        )
            .prop_map(|(size, toppings)| Pizza::new(size, toppings).unwrap())
    }

    proptest! {
        #[test]
        fn rendering_then_parsing_gives_the_same_pizza(pizza in any_pizza()) {
            prop_assume!(!pizza.toppings().is_empty());
            let parsed = Pizza::from_spoken(Some(pizza.size().name()), Some(&pizza.spoken_toppings())).unwrap();
            prop_assert_eq!(parsed, pizza);
        }

        #[test]
        fn any_languages_words_parse_to_the_same_pizza(pizza in any_pizza(), synonym in any::<prop::sample::Index>()) {
            prop_assume!(!pizza.toppings().is_empty());
            for (language, and) in [(Language::English, "and"), (Language::German, "und")] {
                let pick = |words: Words| {
                    let all: Vec<&str> = words.all().collect();
                    all[synonym.index(all.len())]
                };
                let toppings: Vec<&str> = pizza.toppings().iter().map(|t| pick(t.words(language))).collect();
                let said = match toppings.as_slice() {
                    [init @ .., last] if !init.is_empty() => format!("{} {and} {last}", init.join(", ")),
                    _ => toppings.join(""),
                };
                let size = pick(pizza.size().words(language));
                let parsed = Pizza::from_spoken(Some(size), Some(&said)).unwrap();
                prop_assert_eq!(&parsed, &pizza, "{:?}: {} / {}", language, size, said);
            }
        }

        #[test]
        fn parsing_never_panics_and_never_exceeds_the_limit(size in ".{0,40}", spoken in ".{0,80}") {
            if let Ok(pizza) = Pizza::from_spoken(Some(&size), Some(&spoken)) {
                prop_assert!(pizza.toppings().len() <= MAX_TOPPINGS);
            }
        }

        #[test]
        fn synonyms_in_any_case_parse(pizza in any_pizza(), upper in any::<bool>()) {
            prop_assume!(!pizza.toppings().is_empty());
            let said: Vec<&str> = pizza.toppings().iter().map(|t| t.synonyms().first().copied().unwrap_or(t.name())).collect();
            let phrase = said.join(" and ");
            let phrase = if upper { phrase.to_uppercase() } else { phrase };
            let parsed = Pizza::from_spoken(Some(pizza.size().name()), Some(&phrase)).unwrap();
            prop_assert_eq!(parsed.toppings(), pizza.toppings());
        }
    }
}
