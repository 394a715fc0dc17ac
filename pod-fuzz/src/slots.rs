//! The slots a person fills by voice: `Size`, `Toppings` and `Code`.

use pod_domain::{MAX_TOPPINGS, Pizza, PizzaSize};
use pod_ports::OneTimeCode;

/// Input: up to three lines, the spoken `Size`, `Toppings` and `Code`
/// (missing lines are missing slots).
///
/// Invariants: no panic; a parsed size parses back from its name and
/// synonyms; a parsed pizza has at most five different toppings and parses
/// back, from its size's name and its spoken toppings, to the same pizza
/// (when it has toppings);
/// a parsed code is 4 to 8 ASCII digits and parses back, also spaced out
/// and dashed, to the same code.
pub fn slots(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(3, '\n');
    let (size, toppings, code) = (lines.next(), lines.next(), lines.next());

    if let Some(Ok(parsed)) = size.map(PizzaSize::parse) {
        assert_eq!(PizzaSize::parse(parsed.name()), Ok(parsed));
        for synonym in parsed.synonyms() {
            assert_eq!(PizzaSize::parse(synonym), Ok(parsed), "{synonym}");
        }
    }

    if let Ok(pizza) = Pizza::from_spoken(size, toppings) {
        let toppings = pizza.toppings();
        assert!(toppings.len() <= MAX_TOPPINGS, "{pizza:?}");
        for (i, topping) in toppings.iter().enumerate() {
            assert!(
                !toppings[..i].contains(topping),
                "{pizza:?} repeats {topping}"
            );
        }
        // A plain pizza ("with some": filler words only) says no toppings,
        // and an empty slot means the default toppings: as in pod-domain's
        // own property test, only pizzas with toppings round-trip.
        if !toppings.is_empty() {
            let spoken = pizza.spoken_toppings();
            let again = Pizza::from_spoken(Some(pizza.size().name()), Some(&spoken));
            assert_eq!(again.as_ref(), Ok(&pizza), "{pizza:?} said as {spoken:?}");
        }
        assert!(pizza.to_string().starts_with("a "), "{pizza}");
    }

    if let Some(Ok(parsed)) = code.map(OneTimeCode::parse) {
        let digits = parsed.expose();
        assert!((4..=8).contains(&digits.len()), "{} digits", digits.len());
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(OneTimeCode::parse(digits).as_ref(), Ok(&parsed));
        let spaced: Vec<String> = digits.chars().map(String::from).collect();
        assert_eq!(OneTimeCode::parse(&spaced.join(" ")).as_ref(), Ok(&parsed));
        assert_eq!(OneTimeCode::parse(&spaced.join("-")).as_ref(), Ok(&parsed));
    }
}
