use pod_domain::{Channel, MAX_TOPPINGS, Pizza, PizzaError, PizzaSize, Topping};

use super::*;

/// Every plain text of a catalogue, by field name.
fn plain(texts: &Texts) -> Vec<(&'static str, &'static str)> {
    vec![
        ("welcome", texts.welcome),
        ("order_hint", texts.order_hint),
        ("code_hint", texts.code_hint),
        ("help", texts.help),
        ("goodbye", texts.goodbye),
        ("link_account", texts.link_account),
        ("not_understood", texts.not_understood),
        ("fallback", texts.fallback),
        ("unknown_intent", texts.unknown_intent),
        ("order_card_title", texts.order_card_title),
        ("order_rate_limited", texts.order_rate_limited),
        ("no_contact_point", texts.no_contact_point),
        ("confirmed_card_title", texts.confirmed_card_title),
        ("already_confirmed", texts.already_confirmed),
        ("too_many_attempts", texts.too_many_attempts),
        ("expired", texts.expired),
        ("no_pending_order", texts.no_pending_order),
        ("confirm_rate_limited", texts.confirm_rate_limited),
        ("locked", texts.locked),
        ("code_delivery_failed", texts.code_delivery_failed),
        ("unavailable", texts.unavailable),
        ("too_slow", texts.too_slow),
        ("one_moment", texts.one_moment),
    ]
}

fn pizza() -> Pizza {
    Pizza::new(PizzaSize::Large, [Topping::Pepperoni, Topping::Mushrooms]).unwrap()
}

#[test]
fn every_locale_has_every_text() {
    let locales: Vec<&str> = CATALOGUE.iter().map(|t| t.locale).collect();
    assert_eq!(locales, LOCALES, "one catalogue per locale, en-US first");
    for texts in CATALOGUE {
        let locale = texts.locale;
        for (name, text) in plain(texts) {
            assert!(!text.trim().is_empty(), "{locale}: {name} is empty");
            assert!(!text.contains("  "), "{locale}: {name} has a double space");
            assert!(text.chars().count() < 8000, "{locale}: {name} is too long");
        }

        // The formatted texts carry their arguments.
        let sent_to = "d***@example.com";
        let card = (texts.order_card)(&pizza(), sent_to);
        assert!(card.contains(sent_to), "{locale}: {card}");
        let mut received = Vec::new();
        for channel in [Channel::Sms, Channel::Email] {
            for superseded in [false, true] {
                received.push((texts.order_received)(channel, superseded));
            }
        }
        received.sort();
        received.dedup();
        assert_eq!(
            received.len(),
            4,
            "{locale}: channel and supersession change the words"
        );
        assert!(
            (texts.order_received)(Channel::Email, true).len()
                > (texts.order_received)(Channel::Email, false).len(),
            "{locale}: the supersession is said"
        );
        assert!((texts.code_not_caught)(6).contains('6'), "{locale}");
        for attempts in [1, 2, 4] {
            let wrong = (texts.wrong_code)(attempts);
            assert!(
                attempts == 1 || wrong.contains(&attempts.to_string()),
                "{locale}: {wrong}"
            );
            assert!(wrong.contains(texts.code_hint), "{locale}: {wrong}");
        }
        assert_ne!((texts.wrong_code)(1), (texts.wrong_code)(2), "{locale}");
        for error in [
            PizzaError::UnknownTopping("anchovies".into()),
            PizzaError::UnknownSize("gigantic".into()),
        ] {
            let said = (texts.misunderstood_pizza)(&error);
            let word = match &error {
                PizzaError::UnknownTopping(w) | PizzaError::UnknownSize(w) => w,
                PizzaError::TooManyToppings { .. } => unreachable!(),
            };
            assert!(said.contains(word.as_str()), "{locale}: {said}");
        }
        let too_many = (texts.misunderstood_pizza)(&PizzaError::TooManyToppings { count: 6 });
        assert!(
            too_many.contains(&MAX_TOPPINGS.to_string()),
            "{locale}: {too_many}"
        );
        let cancelled = (texts.order_cancelled)(&pizza());
        assert_ne!(cancelled, texts.goodbye, "{locale}");
        assert!(
            cancelled.ends_with(texts.goodbye),
            "{locale}: a cancel ends the session with goodbye: {cancelled}"
        );
        for text in [
            cancelled,
            (texts.confirmed)(&pizza()),
            (texts.confirmed_card)(&pizza()),
            card,
        ] {
            assert!(!text.trim().is_empty(), "{locale}");
            assert!(
                text.contains("Pizza") || text.contains("pizza"),
                "{locale}: {text}"
            );
        }
    }
}

#[test]
fn the_locale_chooses_the_catalogue_and_anything_else_is_en_us() {
    for locale in LOCALES {
        assert_eq!(for_locale(locale).locale, locale);
    }
    assert_eq!(for_locale("de-de").locale, "de-DE");
    assert_eq!(for_locale("de_DE").locale, "de-DE");
    assert_eq!(for_locale(" en-GB ").locale, "en-GB");
    for other in ["", "fr-FR", "de", "en", "de-AT-x", "xx"] {
        assert_eq!(for_locale(other).locale, "en-US", "{other:?}");
    }
}

#[test]
fn english_variants_differ_from_en_us_only_where_meant() {
    let us = for_locale("en-US");
    assert_eq!(plain(for_locale("en-CA")), plain(us));
    for locale in ["en-GB", "en-AU", "en-IN"] {
        let texts = for_locale(locale);
        let differing: Vec<&str> = plain(texts)
            .into_iter()
            .zip(plain(us))
            .filter(|(a, b)| a != b)
            .map(|((name, _), _)| name)
            .collect();
        assert_eq!(differing, ["help"], "{locale}");
        assert!(texts.help.contains("mobile"));
        assert!((texts.order_received)(Channel::Sms, false).ends_with("sent to your mobile."));
        assert!((texts.order_received)(Channel::Email, false).ends_with("sent to your email."));
    }
    assert!((us.order_received)(Channel::Sms, false).ends_with("in your phone."));
}

#[test]
fn german_is_spoken_in_german() {
    let de = for_locale("de-DE");
    let us = for_locale("en-US");
    for ((name, german), (_, english)) in plain(de).into_iter().zip(plain(us)) {
        assert_ne!(german, english, "{name} is not translated");
    }
    assert_eq!(
        de.welcome,
        "Willkommen bei Pizza on Demand. Wie kann ich helfen?"
    );
    assert_eq!(
        (de.confirmed)(&pizza()),
        "Bestellung bestätigt. Deine große Pizza mit Salami und Pilzen ist unterwegs."
    );
    assert_eq!(
        (de.order_card)(&pizza(), "+49 *** 12"),
        "Eine große Pizza mit Salami und Pilzen. Code gesendet an +49 *** 12."
    );
    let many = Pizza::new(
        PizzaSize::Jumbo,
        [Topping::BlackOlives, Topping::GreenPeppers, Topping::Ham],
    )
    .unwrap();
    assert_eq!(
        (de.confirmed_card)(&many),
        "Eine Jumbo-Pizza mit schwarzen Oliven, grüner Paprika und Schinken"
    );
    let plain_pizza = Pizza::new(PizzaSize::Small, []).unwrap();
    assert_eq!((de.confirmed_card)(&plain_pizza), "Eine kleine Pizza");
    assert_eq!(
        (de.order_cancelled)(&pizza()),
        "Okay, ich habe deine Bestellung storniert: eine große Pizza mit Salami und Pilzen. \
         Ihr Code gilt nicht mehr. Tschüss."
    );
    assert_eq!(
        (de.wrong_code)(1),
        "Dieser Code stimmt nicht. Du hast noch einen Versuch. Sag bestätige, gefolgt vom Code."
    );
    assert!((de.order_received)(Channel::Sms, false).contains("per SMS auf dein Telefon"));
    assert!((de.order_received)(Channel::Email, false).contains("per E-Mail"));
    let toppings = (de.misunderstood_pizza)(&PizzaError::UnknownTopping("Sardellen".into()));
    assert!(toppings.contains("Salami, Pilze, Zwiebeln"), "{toppings}");
    assert!(
        toppings.ends_with("Hähnchen und Schinken. Was möchtest du?"),
        "{toppings}"
    );
}

#[test]
fn en_us_keeps_the_original_words() {
    let us = for_locale("en-US");
    assert_eq!(
        us.welcome,
        "Welcome to Pizza on Demand. How can I help you?"
    );
    assert_eq!(
        (us.order_received)(Channel::Email, false),
        "I have received your pizza request. Authorize the transaction using the code received in your email."
    );
    assert_eq!(
        (us.confirmed)(&pizza()),
        "Order confirmed. Your large pizza with pepperoni and mushrooms is on its way."
    );
    assert_eq!(
        (us.order_card)(&pizza(), "d***@example.com"),
        "A large pizza with pepperoni and mushrooms. Code sent to d***@example.com."
    );
    assert_eq!(
        (us.order_cancelled)(&pizza()),
        "Okay, I cancelled your order for a large pizza with pepperoni and mushrooms. \
         Its code won't work any more. Goodbye."
    );
    assert_eq!(
        (us.wrong_code)(1),
        "That code is not right. You have 1 attempt left. Say authorize, followed by the code."
    );
    assert_eq!(
        (us.misunderstood_pizza)(&PizzaError::UnknownSize("gigantic".into())),
        "I don't know the size gigantic. Pizzas come small, medium, large or jumbo. What would you like?"
    );
}
