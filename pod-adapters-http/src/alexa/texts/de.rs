//! German (de-DE). The skill says "du", as Alexa does in German, and
//! describes pizzas in German: "eine große Pizza mit Salami und Pilzen".

use pod_domain::{Channel, MAX_TOPPINGS, Pizza, PizzaError, PizzaSize, Topping};

use super::{Texts, capitalized, listed};

pub(super) const DE_DE: Texts = Texts {
    locale: "de-DE",
    welcome: "Willkommen bei Pizza on Demand. Wie kann ich helfen?",
    order_hint: ORDER_HINT,
    code_hint: CODE_HINT,
    help: "Du kannst eine Pizza bestellen, indem du sagst: Bestelle eine große Pizza mit Salami. \
        Ich schicke dir dann einen Code auf dein Telefon oder per E-Mail, und du bestätigst die Bestellung, \
        indem du sagst: bestätige, gefolgt vom Code. Was möchtest du?",
    goodbye: "Tschüss.",
    order_cancelled: |pizza| {
        format!(
            "Okay, ich habe deine Bestellung storniert: {}. Ihr Code gilt nicht mehr. Tschüss.",
            described(pizza, "eine")
        )
    },
    link_account: "Um Pizza zu bestellen, verknüpfe bitte dein Konto bei Pizza on Demand. \
        Ich habe dir dazu eine Karte in die Alexa App geschickt.",
    not_understood: "Entschuldigung, das habe ich nicht verstanden. Wie kann ich helfen?",
    fallback: "Entschuldigung, dabei kann Pizza on Demand nicht helfen. \
        Du kannst sagen: Bestelle eine große Pizza mit Salami. Oder sag Hilfe.",
    unknown_intent: "Entschuldigung, das kann ich nicht. \
        Du kannst sagen: Bestelle eine große Pizza mit Salami. Oder sag Hilfe.",
    order_received,
    order_card_title: "Pizzabestellung erhalten",
    order_card: |pizza, sent_to| {
        format!(
            "{}. Code gesendet an {sent_to}.",
            capitalized(&described(pizza, "eine"))
        )
    },
    order_rate_limited: "Du hast in der letzten Stunde zu viele Codes angefordert. \
        Bitte versuche es später noch einmal.",
    no_contact_point: "In deinem Konto ist keine Telefonnummer und keine E-Mail-Adresse hinterlegt, \
        an die ich einen Code schicken kann. Bitte trage eine ein und bestelle dann noch einmal.",
    code_not_caught: |digits| {
        format!(
            "Ich habe den Code nicht verstanden. Bitte sag bestätige, gefolgt von den {digits} Ziffern."
        )
    },
    confirmed: |pizza| {
        format!(
            "Bestellung bestätigt. {} ist unterwegs.",
            described(pizza, "Deine")
        )
    },
    confirmed_card_title: "Bestellung bestätigt",
    confirmed_card: |pizza| capitalized(&described(pizza, "eine")),
    already_confirmed: "Diese Bestellung ist schon bestätigt.",
    wrong_code: |attempts_left| {
        let attempts = if attempts_left == 1 {
            "einen Versuch".to_owned()
        } else {
            format!("{attempts_left} Versuche")
        };
        format!("Dieser Code stimmt nicht. Du hast noch {attempts}. {CODE_HINT}")
    },
    too_many_attempts: "Dieser Code stimmt nicht, und das war der letzte Versuch. \
        Deshalb habe ich die Bestellung storniert. Du kannst eine neue aufgeben.",
    expired: "Dieser Code ist abgelaufen, deshalb habe ich die Bestellung storniert. \
        Bitte bestelle noch einmal, dann bekommst du einen neuen Code.",
    no_pending_order: "Es wartet keine Bestellung auf einen Code. \
        Du kannst sagen: Bestelle eine große Pizza mit Salami.",
    confirm_rate_limited: "Gerade wurden zu viele Codes ausprobiert. \
        Bitte warte eine Minute und versuche es dann noch einmal.",
    locked: "Das Bestellen per Sprache ist gesperrt, weil zu oft ein falscher Code genannt wurde. \
        Die Sperre hebt sich nach einer Weile von selbst auf; bitte versuche es später noch einmal.",
    code_delivery_failed: "Entschuldigung, ich konnte deinen Bestätigungscode nicht senden, \
        deshalb habe ich die Bestellung storniert. Bitte versuche es später noch einmal.",
    unavailable: "Entschuldigung, Pizza on Demand hat gerade Probleme. \
        Bitte versuche es in ein paar Minuten noch einmal.",
    too_slow: "Entschuldigung, das dauert länger als es sollte. \
        Wenn dich ein Code erreicht, sag bestätige, gefolgt vom Code. \
        Sonst versuche es bitte in ein paar Minuten noch einmal.",
    misunderstood_pizza,
    one_moment: "Einen Moment, ich schicke dir deinen Code.",
};

const ORDER_HINT: &str = "Du kannst sagen: Bestelle eine große Pizza mit Salami.";
const CODE_HINT: &str = "Sag bestätige, gefolgt vom Code.";

fn order_received(channel: Channel, superseded: bool) -> String {
    let previous = if superseded {
        "Ich habe deine vorherige Bestellung storniert. "
    } else {
        ""
    };
    let place = match channel {
        Channel::Sms => "per SMS auf dein Telefon",
        Channel::Email => "per E-Mail",
    };
    format!(
        "{previous}Ich habe deine Pizzabestellung erhalten. \
         Bestätige sie mit dem Code, den ich dir {place} geschickt habe."
    )
}

fn misunderstood_pizza(error: &PizzaError) -> String {
    match error {
        PizzaError::UnknownTopping(word) => {
            let toppings: Vec<&str> = Topping::ALL.iter().map(|t| topping(*t).0).collect();
            format!(
                "Den Belag {word} kenne ich nicht. Zur Auswahl stehen {}. Was möchtest du?",
                listed(&toppings, "und")
            )
        }
        PizzaError::UnknownSize(word) => format!(
            "Die Größe {word} kenne ich nicht. Pizzas gibt es klein, mittel, groß \
             oder als Jumbo-Pizza. Was möchtest du?"
        ),
        PizzaError::TooManyToppings { .. } => {
            format!("Auf eine Pizza passen höchstens {MAX_TOPPINGS} Beläge. Welche möchtest du?")
        }
    }
}

/// "eine große Pizza mit Salami und Pilzen", with `article` ("eine",
/// "Deine") before it.
pub(super) fn described(pizza: &Pizza, article: &str) -> String {
    let size = match pizza.size() {
        PizzaSize::Small => "kleine Pizza",
        PizzaSize::Medium => "mittlere Pizza",
        PizzaSize::Large => "große Pizza",
        PizzaSize::Jumbo => "Jumbo-Pizza",
    };
    let toppings: Vec<&str> = pizza.toppings().iter().map(|t| topping(*t).1).collect();
    if toppings.is_empty() {
        format!("{article} {size}")
    } else {
        format!("{article} {size} mit {}", listed(&toppings, "und"))
    }
}

/// A topping's German name: as listed ("Pilze"), and after "mit" ("Pilzen").
fn topping(topping: Topping) -> (&'static str, &'static str) {
    match topping {
        Topping::Pepperoni => ("Salami", "Salami"),
        Topping::Mushrooms => ("Pilze", "Pilzen"),
        Topping::Onions => ("Zwiebeln", "Zwiebeln"),
        Topping::Sausage => ("Salsiccia", "Salsiccia"),
        Topping::Bacon => ("Speck", "Speck"),
        Topping::ExtraCheese => ("extra Käse", "extra Käse"),
        Topping::BlackOlives => ("schwarze Oliven", "schwarzen Oliven"),
        Topping::GreenPeppers => ("grüne Paprika", "grüner Paprika"),
        Topping::Pineapple => ("Ananas", "Ananas"),
        Topping::Spinach => ("Spinat", "Spinat"),
        Topping::Chicken => ("Hähnchen", "Hähnchen"),
        Topping::Ham => ("Schinken", "Schinken"),
    }
}
