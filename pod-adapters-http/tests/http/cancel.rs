//! Cancelling the order that waits for its code: "cancel my order" by voice
//! and `DELETE /api/orders/pending`.

use super::*;

const GOODBYE: &str = "Goodbye.";
const CANCELLED: &str = "Okay, I cancelled your order for a large pizza with pepperoni. \
                         Its code won't work any more. Goodbye.";

fn cancel() -> Value {
    intent("AMAZON.CancelIntent", &[])
}

#[tokio::test]
async fn cancel_by_voice_cancels_the_waiting_order_and_its_code_confirms_nothing() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    env.say(demo, order()).await;
    let pending = env.listed(demo).await["pending"]["id"].clone();
    assert!(pending.is_string());

    assert_eq!(env.say(demo, cancel()).await, (CANCELLED.to_owned(), false));
    let (status, orders) = env.api(Method::GET, "/api/orders", demo, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(orders, json!({"pending": null, "confirmed": []}));
    let (speech, _) = env.say(demo, authorize(CODE)).await;
    assert!(speech.starts_with("There is no order waiting"), "{speech}");

    // Nothing waits now: Cancel says goodbye, as Stop does.
    assert_eq!(env.say(demo, cancel()).await, (GOODBYE.to_owned(), false));
    assert_eq!(
        env.say(demo, intent("AMAZON.StopIntent", &[])).await,
        (GOODBYE.to_owned(), false)
    );
}

#[tokio::test]
async fn stop_never_cancels_and_cancel_needs_the_orders_own_account() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    env.say(demo, order()).await;
    assert_eq!(
        env.say(demo, intent("AMAZON.StopIntent", &[])).await,
        (GOODBYE.to_owned(), false)
    );
    // Without a token, with a forged one, or as another customer: goodbye,
    // and demo's order still waits.
    for token in [None, Some("forged"), Some(env.sam.as_str())] {
        assert_eq!(env.say(token, cancel()).await, (GOODBYE.to_owned(), false));
    }
    assert!(env.listed(demo).await["pending"].is_object());
    let (status, confirmed) = env.confirm(demo, CODE).await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
}

#[tokio::test]
async fn cancel_is_said_in_the_language_of_the_request() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    env.say(demo, order()).await;
    let mut request = cancel();
    let mut envelope = envelope(env.now(), demo, request.take());
    envelope["request"]["locale"] = json!("de-DE");
    envelope["request"]["type"] = json!("IntentRequest");
    envelope["request"]["intent"] = json!({"name": "AMAZON.CancelIntent"});
    let (status, answer) = env.alexa(&envelope).await;
    assert_eq!(status, StatusCode::OK);
    check_response(&answer);
    assert_eq!(
        answer["response"]["outputSpeech"]["text"],
        "Okay, ich habe deine Bestellung storniert: eine große Pizza mit Salami. \
         Ihr Code gilt nicht mehr. Tschüss."
    );
}

#[tokio::test]
async fn the_api_cancels_the_pending_order_or_answers_404() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    let (status, none) = env
        .api(Method::DELETE, "/api/orders/pending", demo, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(none["error"], "no_pending_order");
    assert!(none["message"].is_string());

    let (_, placed) = env.place(demo, json!({"size": "large"})).await;
    let (status, cancelled) = env
        .api(Method::DELETE, "/api/orders/pending", demo, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["order"]["id"], placed["order"]["id"]);
    assert_eq!(cancelled["order"]["state"], "cancelled");
    assert_eq!(cancelled["order"]["cancel_reason"], "cancelled_by_customer");
    let (status, again) = env
        .api(Method::DELETE, "/api/orders/pending", demo, None)
        .await;
    assert_eq!(
        (status, again["error"].clone()),
        (StatusCode::NOT_FOUND, json!("no_pending_order"))
    );
    let (status, confirm) = env.confirm(demo, CODE).await;
    assert_eq!(
        (status, confirm["error"].clone()),
        (StatusCode::NOT_FOUND, json!("no_pending_order"))
    );

    let (status, refused) = env
        .api(Method::DELETE, "/api/orders/pending", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused["error"], "unauthorized");
}

#[tokio::test]
async fn a_store_outage_during_a_voice_cancel_is_an_apology() {
    let mut store = MockAccountStore::new();
    store
        .expect_load_account()
        .returning(|_| Err(StoreError::Unavailable("down".into())));
    let env = Env::with(Overrides {
        store: Some(Arc::new(store)),
        ..Overrides::default()
    })
    .await;
    let (speech, _) = env.say(Some(&env.demo), cancel()).await;
    assert!(
        speech.starts_with("Sorry, Pizza on Demand is having trouble"),
        "{speech}"
    );
}
