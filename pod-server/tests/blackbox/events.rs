//! The real server and its SQLite store: "cancel my order" in a
//! conversation, skill events signed like Alexa's (an account linked, then
//! the skill disabled most of an hour later), and a `CanFulfillIntentRequest`
//! that changes nothing.

use super::*;

const CANCELLED: &str = "Okay, I cancelled your order for a large pizza with pepperoni. \
                         Its code won't work any more. Goodbye.";

/// A signed-looking skill event body for the Alexa user `user`, sent
/// `age` ago.
fn skill_event(kind: &str, user: &str, age: Duration, id: &str, body: Option<Value>) -> Vec<u8> {
    let at = format_iso8601(now().minus(age));
    let mut request = json!({
        "type": kind,
        "requestId": format!("amzn1.echo-api.request.blackbox-{id}"),
        "timestamp": at,
        "eventCreationTime": at,
        "eventPublishingTime": at,
    });
    if let Some(body) = body {
        request["body"] = body;
    }
    serde_json::to_vec(&json!({
        "version": "1.0",
        "context": {"System": {
            "application": {"applicationId": SKILL_ID},
            "user": {"userId": user},
            "apiEndpoint": "https://api.amazonalexa.com"
        }},
        "request": request,
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_my_order_cancels_it_and_its_code_no_longer_confirms() {
    let app = TestApp::spawn().await;
    let token = app.token("demo").await;
    let mut alexa = app.alexa(Some(&token));

    let order = alexa.say(ORDER).await.unwrap();
    assert_eq!(speech(&order), RECEIVED_EMAIL);
    let sent = app.last_code();
    assert!(app.orders(&token).await["pending"].is_object());

    let cancelled = alexa.say("cancel").await.unwrap();
    assert_eq!(speech(&cancelled), CANCELLED);
    assert!(!session_open(&cancelled));
    assert_no_orders(&app, &token).await;

    let late = alexa
        .say(&format!("authorize {}", spoken(&sent.code)))
        .await
        .unwrap();
    assert_says(&late, "There is no order waiting for a code");
    // Nothing waits now: cancel just says goodbye.
    let again = alexa.say("cancel").await.unwrap();
    assert_eq!(speech(&again), "Goodbye.");

    // /api: DELETE /api/orders/pending.
    alexa.say(ORDER).await.unwrap();
    let (status, body) = app
        .api(Method::DELETE, "/api/orders/pending", Some(&token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["order"]["cancel_reason"], "cancelled_by_customer");
    let (status, body) = app
        .api(Method::DELETE, "/api/orders/pending", Some(&token), None)
        .await;
    assert_eq!(
        (status, body["error"].clone()),
        (404, json!("no_pending_order"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_then_disabled_skill_cancels_the_pending_order() {
    let app = TestApp::spawn().await;
    let token = app.token("demo").await;
    let mut alexa = app.alexa(Some(&token));
    let user = "amzn1.ask.account.BLACKBOX";

    let linked = skill_event(
        "AlexaSkillEvent.SkillAccountLinked",
        user,
        Duration::from_secs(40 * 60),
        "linked",
        Some(json!({"accessToken": token})),
    );
    let answer = alexa.post_signed(&linked).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, json!({"version": "1.0", "response": {}}));

    alexa.say(ORDER).await.unwrap();
    assert!(app.orders(&token).await["pending"].is_object());

    // Disabled, delivered 55 minutes late, with no token: the recorded link
    // names the customer.
    let disabled = skill_event(
        "AlexaSkillEvent.SkillDisabled",
        user,
        Duration::from_secs(55 * 60),
        "disabled",
        Some(json!({"userInformationPersistenceStatus": "NOT_PERSISTED"})),
    );
    let answer = alexa.post_signed(&disabled).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_no_orders(&app, &token).await;

    // An event over an hour old is refused like any stale request.
    let stale = skill_event(
        "AlexaSkillEvent.SkillEnabled",
        user,
        Duration::from_secs(61 * 60),
        "stale",
        None,
    );
    let answer = alexa.post_signed(&stale).await.unwrap();
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.body["error"], "timestamp");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn can_fulfill_intent_answers_and_places_nothing() {
    let app = TestApp::spawn().await;
    let token = app.token("demo").await;
    let mut alexa = app.alexa(Some(&token));
    let mut envelope = serde_json::to_value(alexa.envelope(&order_intent())).unwrap();
    envelope["request"]["type"] = json!("CanFulfillIntentRequest");
    let answer = alexa
        .post_signed(&serde_json::to_vec(&envelope).unwrap())
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["response"],
        json!({"canFulfillIntent": {"canFulfill": "YES", "slots": {
            "Size": {"canUnderstand": "YES", "canFulfill": "YES"},
            "Toppings": {"canUnderstand": "YES", "canFulfill": "YES"}
        }}})
    );
    assert_no_orders(&app, &token).await;
    assert!(app.outbox().is_empty(), "no code was sent");
}
