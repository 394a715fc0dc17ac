//! Skill events at `/alexa`: verified like any request (but up to an hour
//! old), acted on, answered with an empty 200.

use pod_ports::{AlexaLinks, AlexaUserId};

use super::*;

const ALEXA_USER: &str = "amzn1.ask.account.EVENTS-TEST-USER";

fn alexa_user() -> AlexaUserId {
    AlexaUserId::parse(ALEXA_USER).unwrap()
}

/// A skill event envelope, sent at `at`, as Alexa sends it: no session,
/// `context.System.user` with the user id (and `token` when given), and a
/// request id of its own.
fn event(at: Timestamp, kind: &str, token: Option<&str>, body: Option<Value>) -> Value {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut user = json!({"userId": ALEXA_USER});
    if let Some(token) = token {
        user["accessToken"] = json!(token);
    }
    let mut request = json!({
        "type": kind,
        "requestId": format!("amzn1.echo-api.request.event-{n}"),
        "timestamp": format_iso8601(at),
        "eventCreationTime": format_iso8601(at),
        "eventPublishingTime": format_iso8601(at),
    });
    if let Some(body) = body {
        request["body"] = body;
    }
    json!({
        "version": "1.0",
        "context": {"System": {"application": {"applicationId": SKILL}, "user": user,
                               "apiEndpoint": "https://api.amazonalexa.com"}},
        "request": request,
    })
}

fn ago(env: &Env, seconds: u64) -> Timestamp {
    env.now().minus(Duration::from_secs(seconds))
}

/// Sends an event and expects the empty 200 Amazon expects.
async fn acknowledged(env: &Env, envelope: &Value) {
    let (status, answer) = env.alexa(envelope).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({"version": "1.0", "response": {}}));
}

#[tokio::test]
async fn account_linked_records_the_link_and_disabled_cancels_the_order_and_forgets_it() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    let linked = event(
        ago(&env, 30 * 60),
        "AlexaSkillEvent.SkillAccountLinked",
        None,
        Some(json!({"accessToken": env.demo})),
    );
    acknowledged(&env, &linked).await;
    let customer = env.sql.customer_of(&alexa_user()).await.unwrap().unwrap();
    assert_eq!(customer.as_str(), "local|demo");

    env.say(demo, order()).await;
    assert!(env.listed(demo).await["pending"].is_object());
    // Disabled (delivered 59 minutes late, without a token): the linked
    // customer's order is cancelled and the link forgotten.
    let disabled = event(
        ago(&env, 59 * 60),
        "AlexaSkillEvent.SkillDisabled",
        None,
        Some(json!({"userInformationPersistenceStatus": "PERSISTED"})),
    );
    acknowledged(&env, &disabled).await;
    assert_eq!(env.listed(demo).await["pending"], Value::Null);
    let (_, orders) = env.api(Method::GET, "/api/orders", demo, None).await;
    assert_eq!(orders, json!({"pending": null, "confirmed": []}));
    assert_eq!(env.sql.customer_of(&alexa_user()).await.unwrap(), None);
    let (status, refused) = env.confirm(demo, CODE).await;
    assert_eq!(
        (status, refused["error"].clone()),
        (StatusCode::NOT_FOUND, json!("no_pending_order"))
    );
    // Delivered again: nothing left to do, still acknowledged.
    acknowledged(&env, &disabled).await;
}

#[tokio::test]
async fn a_disable_without_a_link_uses_the_events_token_or_does_nothing() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    env.say(demo, order()).await;
    // No link, no token: nobody is known; the order still waits.
    acknowledged(
        &env,
        &event(env.now(), "AlexaSkillEvent.SkillDisabled", None, None),
    )
    .await;
    assert!(env.listed(demo).await["pending"].is_object());
    // The token names the customer.
    acknowledged(
        &env,
        &event(env.now(), "AlexaSkillEvent.SkillDisabled", demo, None),
    )
    .await;
    assert_eq!(env.listed(demo).await["pending"], Value::Null);
}

#[tokio::test]
async fn an_invalid_token_links_nothing_and_other_events_are_only_acknowledged() {
    let env = Env::new().await;
    let linked = event(
        env.now(),
        "AlexaSkillEvent.SkillAccountLinked",
        None,
        Some(json!({"accessToken": "forged"})),
    );
    acknowledged(&env, &linked).await;
    assert_eq!(env.sql.customer_of(&alexa_user()).await.unwrap(), None);
    for (kind, body) in [
        ("AlexaSkillEvent.SkillEnabled", None),
        (
            "AlexaSkillEvent.SkillPermissionAccepted",
            Some(json!({"acceptedPermissions": [{"scope": "alexa::profile:email:read"}]})),
        ),
        (
            "AlexaSkillEvent.SkillPermissionChanged",
            Some(json!({"acceptedPermissions": []})),
        ),
    ] {
        acknowledged(&env, &event(ago(&env, 3000), kind, None, body)).await;
    }
    let demo = Some(env.demo.as_str());
    assert_eq!(
        env.listed(demo).await,
        json!({"pending": null, "confirmed": []})
    );
}

#[tokio::test]
async fn events_older_than_an_hour_and_other_late_requests_are_refused() {
    let env = Env::new().await;
    for kind in [
        "AlexaSkillEvent.SkillEnabled",
        "AlexaSkillEvent.SkillDisabled",
        "AlexaSkillEvent.SkillAccountLinked",
    ] {
        let (status, answer) = env.alexa(&event(ago(&env, 3601), kind, None, None)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{kind}");
        assert_eq!(answer["error"], "timestamp");
    }
    // An ordinary request ten minutes old is refused.
    let (status, answer) = env
        .alexa(&envelope(ago(&env, 600), Some(&env.demo), order()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"], "timestamp");
    // And an event for another skill.
    let mut other = event(env.now(), "AlexaSkillEvent.SkillEnabled", None, None);
    other["context"]["System"]["application"]["applicationId"] = json!("amzn1.ask.skill.other");
    let env = Env::with(Overrides {
        skill_ids: vec![SKILL.to_owned()],
        ..Overrides::default()
    })
    .await;
    let (status, answer) = env.alexa(&other).await;
    assert_eq!(
        (status, answer["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("skill_id"))
    );
}

#[tokio::test]
async fn a_store_outage_during_a_disable_is_a_503_so_alexa_delivers_again() {
    let mut store = MockAccountStore::new();
    store
        .expect_load_account()
        .returning(|_| Err(StoreError::Unavailable("database gone".into())));
    let env = Env::with(Overrides {
        store: Some(Arc::new(store)),
        ..Overrides::default()
    })
    .await;
    let (status, answer) = env
        .alexa(&event(
            env.now(),
            "AlexaSkillEvent.SkillDisabled",
            Some(&env.demo),
            None,
        ))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"], "unavailable");
    assert!(!answer.to_string().contains("database gone"));
}

#[tokio::test]
async fn a_disable_replayed_within_its_hour_cancels_nothing_placed_after_it() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    let linked = |at| {
        event(
            at,
            "AlexaSkillEvent.SkillAccountLinked",
            None,
            Some(json!({"accessToken": env.demo})),
        )
    };
    acknowledged(&env, &linked(env.now())).await;
    env.say(demo, order()).await;
    let disabled = event(env.now(), "AlexaSkillEvent.SkillDisabled", None, None);
    acknowledged(&env, &disabled).await;
    assert_eq!(env.listed(demo).await["pending"], Value::Null);

    // Enabled and linked again 55 minutes later, a new order waits for its
    // code; the old disable, replayed byte for byte, is still within its
    // hour and passes verification, but is only answered again.
    env.clock.advance(Duration::from_secs(55 * 60));
    acknowledged(&env, &linked(env.now())).await;
    env.say(demo, order()).await;
    let (status, answer) = env.alexa(&disabled).await;
    assert_eq!(
        (status, answer),
        (StatusCode::OK, json!({"version": "1.0", "response": {}}))
    );
    assert!(env.listed(demo).await["pending"].is_object());
    assert_eq!(
        env.sql
            .customer_of(&alexa_user())
            .await
            .unwrap()
            .unwrap()
            .as_str(),
        "local|demo"
    );
    // Without the claim the replay would have gone through: a new disable
    // with an id of its own does cancel the order.
    acknowledged(
        &env,
        &event(env.now(), "AlexaSkillEvent.SkillDisabled", None, None),
    )
    .await;
    assert_eq!(env.listed(demo).await["pending"], Value::Null);
}

#[tokio::test]
async fn a_link_replayed_after_a_disable_records_nothing() {
    let env = Env::new().await;
    let linked = event(
        env.now(),
        "AlexaSkillEvent.SkillAccountLinked",
        None,
        Some(json!({"accessToken": env.demo})),
    );
    acknowledged(&env, &linked).await;
    acknowledged(
        &env,
        &event(env.now(), "AlexaSkillEvent.SkillDisabled", None, None),
    )
    .await;
    assert_eq!(env.sql.customer_of(&alexa_user()).await.unwrap(), None);
    env.clock.advance(Duration::from_secs(30 * 60));
    acknowledged(&env, &linked).await;
    assert_eq!(env.sql.customer_of(&alexa_user()).await.unwrap(), None);
    // Another event reusing the link's id with other bytes is refused.
    let mut forged = event(env.now(), "AlexaSkillEvent.SkillDisabled", None, None);
    forged["request"]["requestId"] = linked["request"]["requestId"].clone();
    let (status, answer) = env.alexa(&forged).await;
    assert_eq!(
        (status, answer["error"].clone()),
        (StatusCode::CONFLICT, json!("request_id_reused"))
    );
}

#[tokio::test]
async fn a_disable_that_failed_for_an_outage_is_processed_when_delivered_again() {
    // The identity provider fails the first look at the event's token only:
    // the first delivery is a 503 and releases its claim, so Alexa's
    // redelivery of the same bytes cancels the order.
    let looked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tokens = MockAccessTokens::new();
    let seen = looked.clone();
    tokens.expect_customer_for_token().returning(move |token| {
        if token == "event-token" && seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            return Err(TokenError::Unavailable("identity provider down".into()));
        }
        Ok(CustomerId::parse("local|demo").unwrap())
    });
    let env = Env::with(Overrides {
        tokens: Some(Arc::new(tokens)),
        ..Overrides::default()
    })
    .await;
    let demo = Some(env.demo.as_str());
    env.say(demo, order()).await;
    let disabled = event(
        env.now(),
        "AlexaSkillEvent.SkillDisabled",
        Some("event-token"),
        None,
    );
    let (status, answer) = env.alexa(&disabled).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert!(env.listed(demo).await["pending"].is_object());
    acknowledged(&env, &disabled).await;
    assert_eq!(env.listed(demo).await["pending"], Value::Null);
    assert_eq!(looked.load(std::sync::atomic::Ordering::SeqCst), 2);
}
