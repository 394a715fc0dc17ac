//! Every word the web app shows, one catalogue per language, chosen by the
//! browser's `Accept-Language` ([`for_accept_language`]): English (`en`,
//! any `en-*`) or German (`de`, any `de-*`); English for anything else. The
//! handlers and templates decide what to show; the catalogue says it, like
//! the skill's `alexa/texts`.

use pod_domain::{Language, Order, PizzaSize};
use pod_ports::oauth::SCOPE_ORDER;

/// What the web app says in one language. Plain texts are fields; texts
/// with something in them are functions of it.
#[derive(Debug)]
pub(crate) struct WebTexts {
    /// The page's `lang`: `en`, `de`.
    pub(crate) lang: &'static str,
    pub(crate) skip: &'static str,
    pub(crate) nav_label: &'static str,
    pub(crate) nav_orders: &'static str,
    pub(crate) nav_profile: &'static str,
    /// The navigation link to the skills linked to the account.
    pub(crate) nav_linked: &'static str,
    pub(crate) nav_privacy: &'static str,
    pub(crate) sign_out: &'static str,
    pub(crate) sign_in: &'static str,
    pub(crate) footer: &'static str,
    pub(crate) privacy_link: &'static str,
    pub(crate) back: &'static str,

    pub(crate) orders_title: &'static str,
    pub(crate) live: &'static str,
    pub(crate) reconnecting: &'static str,
    pub(crate) expired: &'static str,
    pub(crate) orders_noscript: &'static str,
    pub(crate) waiting_title: &'static str,
    pub(crate) ordered: &'static str,
    pub(crate) code_sent_to: &'static str,
    pub(crate) your_phone: &'static str,
    pub(crate) your_email: &'static str,
    pub(crate) time_left: &'static str,
    pub(crate) until: &'static str,
    pub(crate) tries_left: &'static str,
    pub(crate) authorize_hint: &'static str,
    pub(crate) no_pending: &'static str,
    pub(crate) confirmed_title: &'static str,
    pub(crate) clear_confirmed: &'static str,
    pub(crate) no_confirmed: &'static str,
    pub(crate) confirmed_badge: &'static str,
    /// "Large pizza".
    pub(crate) pizza_title: fn(order: &Order) -> String,
    /// "with pepperoni and mushrooms", "no toppings".
    pub(crate) pizza_toppings: fn(order: &Order) -> String,

    pub(crate) profile_title: &'static str,
    pub(crate) account: &'static str,
    pub(crate) email: &'static str,
    pub(crate) phone: &'static str,
    pub(crate) none: &'static str,
    pub(crate) codes_go_to: &'static str,
    pub(crate) profile_hint: &'static str,
    /// Where codes go: by text message to the masked number.
    pub(crate) codes_by_sms: fn(masked: &str) -> String,
    /// Where codes go: to the masked email address.
    pub(crate) codes_by_email: fn(masked: &str) -> String,
    pub(crate) codes_nowhere: &'static str,

    pub(crate) privacy_title: &'static str,
    /// pod's own privacy policy, as HTML (the page's text unless the
    /// operator gives one).
    pub(crate) privacy_default: &'static str,

    pub(crate) sign_in_title: &'static str,
    pub(crate) oidc_intro: &'static str,
    pub(crate) oidc_continue: &'static str,
    /// A code of `digits` digits is on its way.
    pub(crate) code_on_its_way: fn(digits: u32) -> String,
    pub(crate) code_label: &'static str,
    pub(crate) sign_in_button: &'static str,
    pub(crate) start_over: &'static str,
    pub(crate) login_intro: &'static str,
    pub(crate) login_label: &'static str,
    pub(crate) send_code: &'static str,
    /// At most `codes` codes an hour.
    pub(crate) codes_per_hour: fn(codes: u32) -> String,

    pub(crate) notice_signed_in: &'static str,
    pub(crate) notice_unlocked: &'static str,
    pub(crate) notice_cleared: &'static str,
    pub(crate) notice_signed_out: &'static str,
    /// Sign in first to link an account (OAuth consent).
    pub(crate) notice_link: &'static str,
    pub(crate) notice_not_sent_limit: &'static str,
    pub(crate) notice_not_sent_locked: &'static str,
    pub(crate) notice_not_sent_address: &'static str,

    pub(crate) digits_only: &'static str,
    pub(crate) wrong_code: &'static str,
    pub(crate) code_expired: &'static str,
    pub(crate) codes_paused: &'static str,
    pub(crate) wrong_too_often: &'static str,

    pub(crate) forbidden_title: &'static str,
    pub(crate) forbidden: &'static str,
    pub(crate) bad_request_title: &'static str,
    pub(crate) not_found_title: &'static str,
    pub(crate) not_found: &'static str,
    pub(crate) unavailable_title: &'static str,
    pub(crate) unavailable: &'static str,
    pub(crate) sign_in_expired: &'static str,
    pub(crate) sign_in_refused: &'static str,
    pub(crate) sign_in_unverified: &'static str,

    /// The consent page's title.
    pub(crate) consent_title: &'static str,
    /// "Link Pizza on Demand for Alexa?"
    pub(crate) consent_heading: fn(client: &str) -> String,
    /// Before the account's name: "You are signed in as".
    pub(crate) consent_signed_in_as: &'static str,
    /// After the client's name, before the list of what it may do.
    pub(crate) consent_asks_to: &'static str,
    pub(crate) consent_hint: &'static str,
    pub(crate) allow: &'static str,
    pub(crate) deny: &'static str,
    /// What the `order` scope allows.
    pub(crate) scope_order: &'static str,

    pub(crate) linked_title: &'static str,
    /// "linked 2026-12-01 16:09 UTC".
    pub(crate) linked_since: fn(since: &str) -> String,
    pub(crate) unlink: &'static str,
    /// The Unlink button's accessible name for one skill.
    pub(crate) unlink_label: fn(client: &str) -> String,
    pub(crate) no_links: &'static str,
    pub(crate) linked_hint: &'static str,
    pub(crate) notice_unlinked: &'static str,

    pub(crate) oauth_unknown_client: &'static str,
    pub(crate) oauth_unregistered_redirect: &'static str,
    pub(crate) oauth_repeated: &'static str,
    pub(crate) oauth_no_decision: &'static str,
    pub(crate) oauth_no_such_link: &'static str,
}

/// A message for the person on a "That did not work" page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignInProblem {
    /// The OIDC sign-in is no longer valid.
    Expired,
    /// The provider refused or the person cancelled.
    Refused,
    /// The provider's answer did not verify.
    Unverified,
}

/// A message for the person on an OAuth "That did not work" page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OAuthProblem {
    /// The authorization request names no known client.
    UnknownClient,
    /// Its redirect URI is not registered for the client.
    UnregisteredRedirect,
    /// It names its client or redirect URI more than once.
    Repeated,
    /// The consent form came back with neither Allow nor Deny.
    NoDecision,
    /// Unlink of a link that is not there.
    NoSuchLink,
}

impl From<pod_ports::oauth::NoRedirect> for OAuthProblem {
    fn from(reason: pod_ports::oauth::NoRedirect) -> Self {
        match reason {
            pod_ports::oauth::NoRedirect::UnknownClient => OAuthProblem::UnknownClient,
            pod_ports::oauth::NoRedirect::UnregisteredRedirectUri => {
                OAuthProblem::UnregisteredRedirect
            }
        }
    }
}

impl WebTexts {
    pub(crate) fn problem(&self, problem: SignInProblem) -> &'static str {
        match problem {
            SignInProblem::Expired => self.sign_in_expired,
            SignInProblem::Refused => self.sign_in_refused,
            SignInProblem::Unverified => self.sign_in_unverified,
        }
    }

    pub(crate) fn oauth_problem(&self, problem: OAuthProblem) -> &'static str {
        match problem {
            OAuthProblem::UnknownClient => self.oauth_unknown_client,
            OAuthProblem::UnregisteredRedirect => self.oauth_unregistered_redirect,
            OAuthProblem::Repeated => self.oauth_repeated,
            OAuthProblem::NoDecision => self.oauth_no_decision,
            OAuthProblem::NoSuchLink => self.oauth_no_such_link,
        }
    }

    /// What a scope pod knows allows (`None` for any other).
    pub(crate) fn scope(&self, scope: &str) -> Option<&'static str> {
        (scope == SCOPE_ORDER).then_some(self.scope_order)
    }
}

/// English, the default.
pub(crate) static EN: WebTexts = WebTexts {
    lang: "en",
    skip: "Skip to content",
    nav_label: "Main",
    nav_orders: "Orders",
    nav_profile: "Profile",
    nav_linked: "Linked skills",
    nav_privacy: "Privacy",
    sign_out: "Sign out",
    sign_in: "Sign in",
    footer: "Orders placed by voice are confirmed with a one-time code sent to your phone or email.",
    privacy_link: "Privacy policy",
    back: "Back to pod",

    orders_title: "Your orders",
    live: "Live",
    reconnecting: "Reconnecting…",
    expired: "expired",
    orders_noscript: "This page updates by itself when JavaScript is on; otherwise reload it to see new orders.",
    waiting_title: "Waiting for your code",
    ordered: "Ordered",
    code_sent_to: "Code sent to",
    your_phone: "your phone",
    your_email: "your email",
    time_left: "Time left",
    until: "until",
    tries_left: "Tries left",
    authorize_hint: "Say “Alexa, tell Pizza on Demand to authorize” and then the code.",
    no_pending: "No order is waiting. Say “Alexa, ask Pizza on Demand to get me a large pizza with pepperoni.”",
    confirmed_title: "Confirmed orders",
    clear_confirmed: "Clear confirmed orders",
    no_confirmed: "No confirmed orders.",
    confirmed_badge: "Confirmed",
    pizza_title: |order| format!("{} pizza", capitalized(order.pizza().size().name())),
    pizza_toppings: |order| {
        let spoken = order.pizza().spoken_toppings();
        if spoken.is_empty() {
            "no toppings".to_owned()
        } else {
            format!("with {spoken}")
        }
    },

    profile_title: "Your profile",
    account: "Account",
    email: "Email",
    phone: "Phone",
    none: "none",
    codes_go_to: "Codes go to",
    profile_hint: "Codes go by text message when your account has a phone number, otherwise by email.",
    codes_by_sms: |masked| format!("your phone, by text message ({masked})"),
    codes_by_email: |masked| format!("your email ({masked})"),
    codes_nowhere: "nowhere: add a phone number or email address to order by voice",

    privacy_title: "Privacy policy",
    privacy_default: r#"<p>Pizza on Demand (“pod”) lets you order pizza by voice and confirm each order with a one-time code. This page says what pod keeps about you and why.</p>
<h2>What pod stores</h2>
<ul>
  <li><strong>Your orders:</strong> size, toppings, when you ordered, and whether the order was confirmed or cancelled.</li>
  <li><strong>Where a code went:</strong> the channel (text message or email) and a masked form of the address, such as <code>***23</code>.</li>
  <li><strong>One-time codes:</strong> only a keyed hash of each code, its expiry and the number of wrong tries; never the code itself.</li>
  <li><strong>Counters:</strong> how many codes were sent to you in the last hour and how many wrong codes were said in a row, to stop guessing.</li>
  <li><strong>Sign-in sessions:</strong> a hash of your session id, when it expires, and a security token for forms.</li>
  <li><strong>Your account</strong> (when pod runs its own accounts): user name, email address and phone number.</li>
</ul>
<h2>What pod does not do</h2>
<ul>
  <li>It does not record or keep your voice; Alexa sends pod only what you asked for.</li>
  <li>It does not sell or share your data, and loads nothing from other websites.</li>
</ul>
<h2>Your choices</h2>
<p>You can clear your confirmed orders at any time on the orders page. To have your account removed, contact the operator of this service.</p>"#,

    sign_in_title: "Sign in",
    oidc_intro: "Sign in with the account you linked to Alexa.",
    oidc_continue: "Continue to sign in",
    code_on_its_way: |digits| {
        format!(
            "If an account matches, a {digits}-digit code is on its way to its phone or email. It is good for a few minutes."
        )
    },
    code_label: "Code",
    sign_in_button: "Sign in",
    start_over: "Use another account or ask for a new code",
    login_intro: "Enter your user name or email address. pod sends you a one-time code, the same way it does when you order by voice.",
    login_label: "User name or email",
    send_code: "Send me a code",
    codes_per_hour: |codes| format!("At most {codes} codes an hour are sent to an account."),

    notice_signed_in: "You are signed in.",
    notice_unlocked: "You are signed in. Voice ordering was locked after too many wrong codes; it is unlocked now.",
    notice_cleared: "Your confirmed orders are cleared.",
    notice_signed_out: "You are signed out.",
    notice_link: "Sign in to link your account; you will then see what the skill asks for.",
    notice_not_sent_limit: "No new code was sent: this account asked for too many sign-in codes in the last hour. A code sent earlier still works until it expires.",
    notice_not_sent_locked: "No code was sent: there were too many wrong codes for this account, so codes are paused for a while.",
    notice_not_sent_address: "No code was sent: too many codes were asked for from your network in the last hour. Try again later.",

    digits_only: "Enter the code as digits only.",
    wrong_code: "That code is not right. Check it and try again.",
    code_expired: "That code has expired. Ask for a new one.",
    codes_paused: "Too many wrong codes: codes for this account are paused for a while.",
    wrong_too_often: "That code was wrong too often. Ask for a new one.",

    forbidden_title: "This form has expired",
    forbidden: "For your safety pod did not act on it. Go back, reload the page and try again (signing in needs cookies).",
    bad_request_title: "That did not work",
    not_found_title: "Page not found",
    not_found: "There is no page at this address.",
    unavailable_title: "pod cannot do this right now",
    unavailable: "Something behind pod is not answering. Please try again in a minute.",
    sign_in_expired: "This sign-in is no longer valid. Please start signing in again.",
    sign_in_refused: "Sign-in was cancelled or refused. Please try again.",
    sign_in_unverified: "Sign-in could not be verified. Please start signing in again.",

    consent_title: "Link your account",
    consent_heading: |client| format!("Link {client}?"),
    consent_signed_in_as: "You are signed in as",
    consent_asks_to: "asks to:",
    consent_hint: "It never sees your codes. You can unlink it at any time under Linked skills.",
    allow: "Allow",
    deny: "Deny",
    scope_order: "Place pizza orders for you by voice. Each order still waits for the one-time code pod sends to your phone or email.",

    linked_title: "Linked skills",
    linked_since: |since| format!("linked {since}"),
    unlink: "Unlink",
    unlink_label: |client| format!("Unlink {client}"),
    no_links: "No skill is linked to your account.",
    linked_hint: "A linked skill may place orders for you by voice; every order still waits for the code pod sends you. Unlinking ends its access at once.",
    notice_unlinked: "Unlinked. The skill can no longer act for you; link it again from the Alexa app if you want it back.",

    oauth_unknown_client: "The request does not name a known application.",
    oauth_unregistered_redirect: "The address to return to is not registered for this application.",
    oauth_repeated: "The request names its application or return address more than once.",
    oauth_no_decision: "Choose Allow or Deny.",
    oauth_no_such_link: "No such link.",
};

/// German ("du", as the skill speaks).
pub(crate) static DE: WebTexts = WebTexts {
    lang: "de",
    skip: "Zum Inhalt springen",
    nav_label: "Hauptmenü",
    nav_orders: "Bestellungen",
    nav_profile: "Profil",
    nav_linked: "Verknüpfte Skills",
    nav_privacy: "Datenschutz",
    sign_out: "Abmelden",
    sign_in: "Anmelden",
    footer: "Per Sprache aufgegebene Bestellungen werden mit einem Einmalcode bestätigt, den du per SMS oder E-Mail bekommst.",
    privacy_link: "Datenschutzerklärung",
    back: "Zurück zu pod",

    orders_title: "Deine Bestellungen",
    live: "Live",
    reconnecting: "Verbinde neu…",
    expired: "abgelaufen",
    orders_noscript: "Mit JavaScript aktualisiert sich diese Seite von selbst; sonst lade sie neu, um neue Bestellungen zu sehen.",
    waiting_title: "Wartet auf deinen Code",
    ordered: "Bestellt",
    code_sent_to: "Code gesendet an",
    your_phone: "dein Telefon",
    your_email: "deine E-Mail",
    time_left: "Verbleibende Zeit",
    until: "bis",
    tries_left: "Verbleibende Versuche",
    authorize_hint: "Sag „Alexa, sag Pizza on Demand bestätige“ und dann den Code.",
    no_pending: "Keine Bestellung wartet. Sag „Alexa, sag Pizza on Demand bestelle eine große Pizza mit Salami.“",
    confirmed_title: "Bestätigte Bestellungen",
    clear_confirmed: "Bestätigte Bestellungen löschen",
    no_confirmed: "Keine bestätigten Bestellungen.",
    confirmed_badge: "Bestätigt",
    pizza_title: |order| {
        match order.pizza().size() {
            PizzaSize::Small => "Kleine Pizza",
            PizzaSize::Medium => "Mittlere Pizza",
            PizzaSize::Large => "Große Pizza",
            PizzaSize::Jumbo => "Jumbo-Pizza",
        }
        .to_owned()
    },
    pizza_toppings: |order| {
        let toppings: Vec<String> = order
            .pizza()
            .toppings()
            .iter()
            .map(|t| capitalized(t.words(Language::German).value))
            .collect();
        match toppings.as_slice() {
            [] => "ohne Belag".to_owned(),
            [one] => format!("Belag: {one}"),
            [init @ .., last] => format!("Belag: {} und {last}", init.join(", ")),
        }
    },

    profile_title: "Dein Profil",
    account: "Konto",
    email: "E-Mail",
    phone: "Telefon",
    none: "keine",
    codes_go_to: "Codes gehen an",
    profile_hint: "Codes kommen per SMS, wenn dein Konto eine Telefonnummer hat, sonst per E-Mail.",
    codes_by_sms: |masked| format!("dein Telefon, per SMS ({masked})"),
    codes_by_email: |masked| format!("deine E-Mail ({masked})"),
    codes_nowhere: "nirgendwohin: trage eine Telefonnummer oder E-Mail-Adresse ein, um per Sprache zu bestellen",

    privacy_title: "Datenschutzerklärung",
    privacy_default: r#"<p>Pizza on Demand („pod“) lässt dich Pizza per Sprache bestellen und jede Bestellung mit einem Einmalcode bestätigen. Diese Seite sagt, was pod über dich speichert und warum.</p>
<h2>Was pod speichert</h2>
<ul>
  <li><strong>Deine Bestellungen:</strong> Größe, Belag, wann du bestellt hast und ob die Bestellung bestätigt oder storniert wurde.</li>
  <li><strong>Wohin ein Code ging:</strong> der Weg (SMS oder E-Mail) und eine gekürzte Form der Adresse, etwa <code>***23</code>.</li>
  <li><strong>Einmalcodes:</strong> nur ein geschützter Hash jedes Codes, sein Ablauf und die Zahl falscher Versuche; nie den Code selbst.</li>
  <li><strong>Zähler:</strong> wie viele Codes dir in der letzten Stunde geschickt wurden und wie viele falsche Codes nacheinander gesagt wurden, um Raten zu verhindern.</li>
  <li><strong>Anmeldesitzungen:</strong> ein Hash deiner Sitzungs-ID, wann sie abläuft, und ein Sicherheitstoken für Formulare.</li>
  <li><strong>Dein Konto</strong> (wenn pod eigene Konten führt): Benutzername, E-Mail-Adresse und Telefonnummer.</li>
</ul>
<h2>Was pod nicht tut</h2>
<ul>
  <li>pod nimmt deine Stimme nicht auf und speichert sie nicht; Alexa schickt pod nur, worum du gebeten hast.</li>
  <li>pod verkauft und teilt deine Daten nicht und lädt nichts von anderen Websites.</li>
</ul>
<h2>Deine Wahl</h2>
<p>Auf der Bestellseite kannst du deine bestätigten Bestellungen jederzeit löschen. Wenn dein Konto entfernt werden soll, wende dich an den Betreiber dieses Dienstes.</p>"#,

    sign_in_title: "Anmelden",
    oidc_intro: "Melde dich mit dem Konto an, das du mit Alexa verknüpft hast.",
    oidc_continue: "Weiter zur Anmeldung",
    code_on_its_way: |digits| {
        format!(
            "Wenn ein Konto passt, ist ein {digits}-stelliger Code an dessen Telefon oder E-Mail unterwegs. Er gilt ein paar Minuten."
        )
    },
    code_label: "Code",
    sign_in_button: "Anmelden",
    start_over: "Anderes Konto verwenden oder neuen Code anfordern",
    login_intro: "Gib deinen Benutzernamen oder deine E-Mail-Adresse ein. pod schickt dir einen Einmalcode, so wie bei einer Bestellung per Sprache.",
    login_label: "Benutzername oder E-Mail",
    send_code: "Code schicken",
    codes_per_hour: |codes| format!("Ein Konto bekommt höchstens {codes} Codes pro Stunde."),

    notice_signed_in: "Du bist angemeldet.",
    notice_unlocked: "Du bist angemeldet. Bestellen per Sprache war nach zu vielen falschen Codes gesperrt; jetzt ist es wieder frei.",
    notice_cleared: "Deine bestätigten Bestellungen sind gelöscht.",
    notice_signed_out: "Du bist abgemeldet.",
    notice_link: "Melde dich an, um dein Konto zu verknüpfen; danach siehst du, worum der Skill bittet.",
    notice_not_sent_limit: "Es wurde kein neuer Code geschickt: Für dieses Konto wurden in der letzten Stunde zu viele Anmeldecodes angefordert. Ein früher geschickter Code gilt weiter, bis er abläuft.",
    notice_not_sent_locked: "Es wurde kein Code geschickt: Für dieses Konto gab es zu viele falsche Codes, deshalb pausieren Codes eine Weile.",
    notice_not_sent_address: "Es wurde kein Code geschickt: Aus deinem Netz wurden in der letzten Stunde zu viele Codes angefordert. Versuche es später noch einmal.",

    digits_only: "Gib den Code nur als Ziffern ein.",
    wrong_code: "Dieser Code stimmt nicht. Prüfe ihn und versuche es noch einmal.",
    code_expired: "Dieser Code ist abgelaufen. Fordere einen neuen an.",
    codes_paused: "Zu viele falsche Codes: Codes für dieses Konto pausieren eine Weile.",
    wrong_too_often: "Dieser Code war zu oft falsch. Fordere einen neuen an.",

    forbidden_title: "Dieses Formular ist abgelaufen",
    forbidden: "Zu deiner Sicherheit hat pod nichts damit getan. Geh zurück, lade die Seite neu und versuche es noch einmal (die Anmeldung braucht Cookies).",
    bad_request_title: "Das hat nicht geklappt",
    not_found_title: "Seite nicht gefunden",
    not_found: "Unter dieser Adresse gibt es keine Seite.",
    unavailable_title: "pod kann das gerade nicht",
    unavailable: "Etwas hinter pod antwortet nicht. Bitte versuche es in einer Minute noch einmal.",
    sign_in_expired: "Diese Anmeldung ist nicht mehr gültig. Bitte melde dich noch einmal an.",
    sign_in_refused: "Die Anmeldung wurde abgebrochen oder abgelehnt. Bitte versuche es noch einmal.",
    sign_in_unverified: "Die Anmeldung konnte nicht geprüft werden. Bitte melde dich noch einmal an.",

    consent_title: "Konto verknüpfen",
    consent_heading: |client| format!("{client} verknüpfen?"),
    consent_signed_in_as: "Du bist angemeldet als",
    consent_asks_to: "möchte:",
    consent_hint: "Deine Codes sieht der Skill nie. Du kannst die Verknüpfung jederzeit unter „Verknüpfte Skills“ aufheben.",
    allow: "Erlauben",
    deny: "Ablehnen",
    scope_order: "Per Sprache Pizza für dich bestellen. Jede Bestellung wartet weiterhin auf den Einmalcode, den pod an dein Telefon oder deine E-Mail schickt.",

    linked_title: "Verknüpfte Skills",
    linked_since: |since| format!("verknüpft am {since}"),
    unlink: "Verknüpfung aufheben",
    unlink_label: |client| format!("Verknüpfung mit {client} aufheben"),
    no_links: "Mit deinem Konto ist kein Skill verknüpft.",
    linked_hint: "Ein verknüpfter Skill darf per Sprache für dich bestellen; jede Bestellung wartet trotzdem auf den Code, den pod dir schickt. Hebst du die Verknüpfung auf, endet sein Zugriff sofort.",
    notice_unlinked: "Verknüpfung aufgehoben. Der Skill kann nicht mehr für dich handeln; verknüpfe ihn in der Alexa-App neu, wenn du ihn wieder nutzen willst.",

    oauth_unknown_client: "Die Anfrage nennt keine bekannte Anwendung.",
    oauth_unregistered_redirect: "Die Rücksprungadresse ist für diese Anwendung nicht eingetragen.",
    oauth_repeated: "Die Anfrage nennt ihre Anwendung oder Rücksprungadresse mehr als einmal.",
    oauth_no_decision: "Wähle „Erlauben“ oder „Ablehnen“.",
    oauth_no_such_link: "Diese Verknüpfung gibt es nicht.",
};

/// The catalogue for an `Accept-Language` header: its most preferred
/// language pod has (`de` or `de-*` → German, `en` or `en-*` → English,
/// by their `q` weights); English when none of them is there.
pub(crate) fn for_accept_language(header: &str) -> &'static WebTexts {
    let mut wanted: Vec<(u32, &'static WebTexts)> = header
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), |q| {
                    q.trim().parse::<f32>().ok().map(|q| (q * 1000.0) as u32)
                })?;
            let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
            let texts = match primary.as_str() {
                "de" => &DE,
                "en" => &EN,
                _ => return None,
            };
            (quality > 0).then_some((quality, texts))
        })
        .collect();
    // The highest weight; among equals, the first named.
    wanted.sort_by_key(|(quality, _)| std::cmp::Reverse(*quality));
    wanted.first().map_or(&EN, |(_, texts)| texts)
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preferred_language_pod_has_wins_and_english_is_the_default() {
        let lang = |header: &str| for_accept_language(header).lang;
        assert_eq!(lang(""), "en");
        assert_eq!(lang("de"), "de");
        assert_eq!(lang("de-DE,de;q=0.9,en;q=0.8"), "de");
        assert_eq!(lang("de-AT"), "de");
        assert_eq!(lang("en-GB,en;q=0.9"), "en");
        assert_eq!(lang("en-IN"), "en");
        assert_eq!(lang("fr-FR,fr;q=0.9"), "en");
        assert_eq!(lang("fr-FR,de;q=0.5"), "de");
        assert_eq!(lang("en;q=0.4,de;q=0.8"), "de");
        assert_eq!(lang("de;q=0,en"), "en");
        assert_eq!(lang("*"), "en");
        assert_eq!(lang("de;q=bogus"), "en");
        assert_eq!(lang("🍕,,;;"), "en");
    }

    #[test]
    fn every_language_has_every_text() {
        for texts in [&EN, &DE] {
            let shown = format!("{texts:?}");
            assert!(!shown.contains(": \"\""), "{}: an empty text", texts.lang);
        }
        assert_ne!(EN.sign_in_title, DE.sign_in_title);
        for scope in pod_ports::oauth::SUPPORTED_SCOPES {
            assert!(EN.scope(scope.0).is_some() && DE.scope(scope.0).is_some());
        }
        assert_eq!(EN.scope("other"), None);
    }
}
