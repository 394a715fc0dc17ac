//! The OAuth 2.0 server of the embedded mode from the outside: `pod
//! clients` as an operator uses it, the metadata document at the address
//! the server is reached at, and the token endpoint refusing what it must.
//! The whole account-linking flow, a person in a browser included, is
//! `tests/browser/account-linking.mjs`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::TestApp;

const ALEXA: &str = "https://pitangui.amazon.com/api/skill/link/M2AAAAAAAAAAAA";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_are_registered_listed_revoked_and_removed() {
    let app = TestApp::spawn().await;
    let added = app
        .pod_ok(&[
            "clients",
            "add",
            "alexa",
            "--name",
            "Pizza on Demand for Alexa",
            "--redirect-uri",
            ALEXA,
            "--redirect-uri",
            "https://layla.amazon.com/api/skill/link/M2AAAAAAAAAAAA",
        ])
        .await;
    let secret = added
        .lines()
        .find_map(|l| l.strip_prefix("client secret: "))
        .expect("the secret is printed")
        .trim()
        .to_owned();
    assert!(secret.len() >= 43, "{added}");
    let again = app
        .pod(&["clients", "add", "alexa", "--redirect-uri", ALEXA])
        .await;
    assert!(!again.status.success());
    assert!(again.stderr.contains("exists"), "{}", again.stderr);
    let open = app
        .pod(&[
            "clients",
            "add",
            "evil",
            "--redirect-uri",
            "http://evil.example/cb",
        ])
        .await;
    assert!(!open.status.success());
    assert!(open.stderr.contains("https://"), "{}", open.stderr);
    let listed = app.pod_ok(&["clients", "list"]).await;
    assert!(
        listed.contains("alexa") && listed.contains(ALEXA),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "the secret is never shown again");

    // The secret works at the token endpoint (the code does not).
    let client = reqwest::Client::new();
    let token = |id: &str, secret: &str, code: &str| {
        client
            .post(app.url("/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", ALEXA),
            ])
            .send()
    };
    let response = token("alexa", &secret, "no-such-code").await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    let response = token("alexa", "wrong", "no-such-code").await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    let revoked = app
        .pod_ok(&["clients", "revoke", "alexa", "--user", "demo"])
        .await;
    assert!(revoked.contains("revoked 0 link(s)"), "{revoked}");
    let nobody = app
        .pod(&["clients", "revoke", "alexa", "--user", "nobody"])
        .await;
    assert!(!nobody.status.success());
    let removed = app.pod_ok(&["clients", "remove", "alexa"]).await;
    assert!(removed.contains("removed client alexa"), "{removed}");
    let response = token("alexa", &secret, "no-such-code").await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        !app.pod(&["clients", "remove", "alexa"])
            .await
            .status
            .success()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_names_the_endpoints_where_the_server_is_reached() {
    let app = TestApp::spawn().await;
    let response = reqwest::get(app.url("/.well-known/oauth-authorization-server"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let metadata: Value = response.json().await.unwrap();
    assert_eq!(metadata["issuer"], app.base);
    assert_eq!(
        metadata["authorization_endpoint"],
        app.url("/oauth/authorize")
    );
    assert_eq!(metadata["token_endpoint"], app.url("/oauth/token"));
    assert_eq!(metadata["revocation_endpoint"], app.url("/oauth/revoke"));
    // An unknown client gets pod's error page, never a redirect.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .get(app.url(
            "/oauth/authorize?response_type=code&client_id=nobody&redirect_uri=https%3A%2F%2Fevil.example%2F",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());
}
