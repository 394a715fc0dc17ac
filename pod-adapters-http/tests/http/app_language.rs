//! The web app speaks the browser's language (`Accept-Language`): German
//! for `de`, English for `en-*` and for anything else.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use super::{Env, Page, env};

impl Env {
    /// `GET path` with `Accept-Language: accept` and `cookie`.
    async fn get_in(&self, path: &str, accept: &str, cookie: Option<&str>) -> Page {
        let mut request = Request::get(path).header(header::ACCEPT_LANGUAGE, accept);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }
}

#[tokio::test]
async fn a_german_browser_gets_the_sign_in_page_in_german() {
    let env = env().await;
    let page = env
        .get_in("/app/sign-in", "de-DE,de;q=0.9,en;q=0.8", None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<html lang=\"de\">"), "{}", page.body);
    assert!(
        page.body
            .contains("<title>Anmelden · Pizza on Demand</title>")
    );
    assert!(page.body.contains("<h1>Anmelden</h1>"));
    assert!(page.body.contains(">Benutzername oder E-Mail</label>"));
    assert!(page.body.contains(">Code schicken</button>"));
    assert!(page.body.contains("höchstens 5 Codes pro Stunde"));
    assert!(page.body.contains(">Datenschutz</a>"));
    assert!(!page.body.contains("Send me a code"), "{}", page.body);

    // A notice, in German too.
    let page = env
        .get_in("/app/sign-in?notice=signed-out", "de", None)
        .await;
    assert!(page.body.contains("Du bist abgemeldet."), "{}", page.body);
}

#[tokio::test]
async fn an_unknown_or_missing_language_gets_english() {
    let env = env().await;
    for accept in ["fr-FR,fr;q=0.9", "", "*", "en-GB"] {
        let page = env.get_in("/app/sign-in", accept, None).await;
        assert_eq!(page.status, StatusCode::OK, "{accept}");
        assert!(page.body.contains("<html lang=\"en\">"), "{accept}");
        assert!(page.body.contains(">Send me a code</button>"), "{accept}");
        assert!(!page.body.contains("Anmelden"), "{accept}");
    }
    // French first, German second: German, the first pod has.
    let page = env
        .get_in("/app/sign-in", "fr-FR,de;q=0.5,en;q=0.1", None)
        .await;
    assert!(page.body.contains(">Code schicken</button>"));
}

#[tokio::test]
async fn errors_and_orders_follow_the_language() {
    let env = env().await;
    let page = env.get_in("/app/nowhere", "de", None).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains("Seite nicht gefunden"), "{}", page.body);
    assert!(page.body.contains(">Zurück zu pod</a>"));

    let page = env.get_in("/app/privacy", "de", None).await;
    assert!(page.body.contains("<h1>Datenschutzerklärung</h1>"));
    assert!(
        page.body.contains("<h2>Was pod speichert</h2>"),
        "{}",
        page.body
    );
    let page = env.get_in("/app/privacy", "en", None).await;
    assert!(page.body.contains("<h1>Privacy policy</h1>"));
    assert!(page.body.contains("<h2>What pod stores</h2>"));

    let (cookie, _) = env.sign_in().await;
    env.place_order().await;
    let page = env.get_in("/app", "de-AT", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    for german in [
        "<h1>Deine Bestellungen</h1>",
        "Wartet auf deinen Code",
        "Große Pizza",
        "Belag: Salami",
        "dein Telefon",
        "Verbleibende Versuche",
        "data-expired-text=\"abgelaufen\"",
        "Keine bestätigten Bestellungen.",
    ] {
        assert!(page.body.contains(german), "{german}:\n{}", page.body);
    }
    let page = env.get_in("/app", "en-US", Some(&cookie)).await;
    assert!(page.body.contains("Large pizza") && page.body.contains("with pepperoni"));
}
