//! `CanFulfillIntentRequest`: answered from the interaction model and the
//! domain's parsers, with no side effects.

use super::*;

fn query(intent: &str, slots: &[(&str, &str)]) -> Value {
    let mut request = super::intent(intent, slots);
    request["type"] = json!("CanFulfillIntentRequest");
    request
}

/// Asks as the holder of `token`; the `canFulfillIntent` answer.
async fn ask(env: &Env, token: Option<&str>, request: Value) -> Value {
    let (status, answer) = env.alexa(&envelope(env.now(), token, request)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["version"], "1.0");
    let response = answer["response"].as_object().unwrap();
    assert_eq!(
        response.keys().collect::<Vec<_>>(),
        ["canFulfillIntent"],
        "no speech, no card, no session: {answer}"
    );
    answer["response"]["canFulfillIntent"].clone()
}

fn slot(understand: &str, fulfill: &str) -> Value {
    json!({"canUnderstand": understand, "canFulfill": fulfill})
}

#[tokio::test]
async fn a_pizza_order_is_answered_from_the_parsers() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    let order = query(
        "GetMeSomePizzaIntent",
        &[("Size", "large"), ("Toppings", "pepperoni and mushrooms")],
    );
    assert_eq!(
        ask(&env, demo, order.clone()).await,
        json!({"canFulfill": "YES", "slots": {"Size": slot("YES", "YES"), "Toppings": slot("YES", "YES")}})
    );
    // Without a linked account: maybe (the person must link one first).
    assert_eq!(ask(&env, None, order).await["canFulfill"], "MAYBE");
    // German words are the same pizza.
    let german = query(
        "GetMeSomePizzaIntent",
        &[("Size", "groß"), ("Toppings", "Salami")],
    );
    assert_eq!(ask(&env, demo, german).await["canFulfill"], "YES");
    // No slots: the defaults.
    assert_eq!(
        ask(&env, demo, query("GetMeSomePizzaIntent", &[])).await,
        json!({"canFulfill": "YES"})
    );
    // Unknown words: not understood, no.
    assert_eq!(
        ask(
            &env,
            demo,
            query(
                "GetMeSomePizzaIntent",
                &[("Size", "gigantic"), ("Toppings", "pepperoni")]
            )
        )
        .await,
        json!({"canFulfill": "NO", "slots": {"Size": slot("NO", "NO"), "Toppings": slot("YES", "YES")}})
    );
    assert_eq!(
        ask(
            &env,
            demo,
            query("GetMeSomePizzaIntent", &[("Toppings", "anchovies")])
        )
        .await,
        json!({"canFulfill": "NO", "slots": {"Toppings": slot("NO", "NO")}})
    );
    // Too many toppings: understood, but no pizza carries them.
    let six = "ham, bacon, onions, spinach, chicken and pineapple";
    assert_eq!(
        ask(
            &env,
            demo,
            query("GetMeSomePizzaIntent", &[("Toppings", six)])
        )
        .await,
        json!({"canFulfill": "NO", "slots": {"Toppings": slot("YES", "NO")}})
    );
}

#[tokio::test]
async fn a_code_is_understood_when_it_is_digits() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    assert_eq!(
        ask(
            &env,
            demo,
            query("AuthorizePizzaOrderIntent", &[("Code", "4321")])
        )
        .await,
        json!({"canFulfill": "YES", "slots": {"Code": slot("YES", "YES")}})
    );
    assert_eq!(
        ask(
            &env,
            demo,
            query("AuthorizePizzaOrderIntent", &[("Code", "12")])
        )
        .await,
        json!({"canFulfill": "NO", "slots": {"Code": slot("YES", "NO")}})
    );
    assert_eq!(
        ask(
            &env,
            demo,
            query("AuthorizePizzaOrderIntent", &[("Code", "one two")])
        )
        .await,
        json!({"canFulfill": "NO", "slots": {"Code": slot("NO", "NO")}})
    );
    assert_eq!(
        ask(&env, demo, query("AuthorizePizzaOrderIntent", &[])).await,
        json!({"canFulfill": "MAYBE"})
    );
    assert_eq!(
        ask(
            &env,
            None,
            query("AuthorizePizzaOrderIntent", &[("Code", "4321")])
        )
        .await["canFulfill"],
        "MAYBE"
    );
}

#[tokio::test]
async fn other_intents_and_unknown_slots_are_no() {
    let env = Env::new().await;
    let demo = Some(env.demo.as_str());
    for name in [
        "OrderCoffeeIntent",
        "AMAZON.HelpIntent",
        "AMAZON.CancelIntent",
    ] {
        assert_eq!(
            ask(&env, demo, query(name, &[("Drink", "latte")])).await,
            json!({"canFulfill": "NO"}),
            "{name}"
        );
    }
    assert_eq!(
        ask(
            &env,
            demo,
            query(
                "GetMeSomePizzaIntent",
                &[("Size", "large"), ("Crust", "thin")]
            )
        )
        .await,
        json!({"canFulfill": "NO", "slots": {"Crust": slot("NO", "NO"), "Size": slot("YES", "YES")}})
    );
    let mut no_intent = query("GetMeSomePizzaIntent", &[]);
    no_intent.as_object_mut().unwrap().remove("intent");
    assert_eq!(
        ask(&env, demo, no_intent).await,
        json!({"canFulfill": "NO"})
    );
}

#[tokio::test]
async fn answering_touches_no_port_and_writes_nothing() {
    // Store and tokens that panic if anything calls them.
    let env = Env::with(Overrides {
        store: Some(Arc::new(MockAccountStore::new())),
        tokens: Some(Arc::new(MockAccessTokens::new())),
        codes: Some(Arc::new(MockOneTimeCodes::new())),
        directory: Some(Arc::new(MockCustomerDirectory::new())),
        ..Overrides::default()
    })
    .await;
    let demo = Some(env.demo.as_str());
    for request in [
        query(
            "GetMeSomePizzaIntent",
            &[("Size", "large"), ("Toppings", "ham")],
        ),
        query("AuthorizePizzaOrderIntent", &[("Code", CODE)]),
        query("OrderCoffeeIntent", &[]),
    ] {
        ask(&env, demo, request).await;
    }
    // Nothing reached the real store either: no account, no order, no link.
    let demo_id = CustomerId::parse("local|demo").unwrap();
    assert_eq!(env.sql.load_account(&demo_id).await.unwrap().version(), 0);
    assert!(env.sql.orders_of(&demo_id).await.unwrap().is_empty());
    let user = pod_ports::AlexaUserId::parse("amzn1.ask.account.test").unwrap();
    use pod_ports::AlexaLinks;
    assert_eq!(env.sql.customer_of(&user).await.unwrap(), None);
}
