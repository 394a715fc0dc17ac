//! The typed envelopes against real request samples (`fixtures/requests/`),
//! both directions, and parsing arbitrary JSON.

use std::path::Path;

use pod_alexa::envelope::{
    Application, Card, ConfirmationStatus, Context, Device, DialogState, ErrorType, Intent,
    IntentName, IntentRequest, LaunchRequest, Request, RequestCommon, RequestEnvelope,
    ResolutionCode, ResponseEnvelope, Session, SessionEndedReason, Slot, System, User,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn sample(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/requests")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(name: &str) -> RequestEnvelope {
    serde_json::from_str(&sample(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const SAMPLES: &[&str] = &[
    "launch-amazon-reference.json",
    "order-intent.json",
    "authorize-intent.json",
    "session-ended-error.json",
    "exception-encountered.json",
    "audio-player-playback-started.json",
    "skill-account-linked.json",
    "skill-disabled.json",
    "skill-permission-accepted.json",
    "can-fulfill-intent.json",
];

#[test]
fn every_sample_round_trips_through_the_typed_envelope() {
    for name in SAMPLES {
        let envelope = parse(name);
        let json = serde_json::to_string(&envelope).unwrap();
        let back: RequestEnvelope = serde_json::from_str(&json).unwrap();
        assert_eq!(back, envelope, "{name}");
    }
}

#[test]
fn samples_with_only_modelled_fields_serialize_back_to_the_same_json() {
    for name in [
        "order-intent.json",
        "authorize-intent.json",
        "skill-account-linked.json",
        "skill-disabled.json",
        "skill-permission-accepted.json",
        "can-fulfill-intent.json",
    ] {
        let original: Value = serde_json::from_str(&sample(name)).unwrap();
        let again = serde_json::to_value(parse(name)).unwrap();
        assert_eq!(again, original, "{name}");
    }
}

#[test]
fn the_reference_launch_request_reads_as_documented() {
    let envelope = parse("launch-amazon-reference.json");
    let Request::Launch(LaunchRequest { common }) = &envelope.request else {
        panic!("not a launch: {:?}", envelope.request);
    };
    assert_eq!(common.timestamp, "2026-11-24T21:30:00Z");
    assert_eq!(common.locale.as_deref(), Some("en-US"));
    assert_eq!(envelope.access_token(), Some("Atza|AAAAAAAA"));
    assert_eq!(
        envelope.application_id(),
        Some("amzn1.ask.skill.11111111-2222-3333-4444-555555555555")
    );
    let session = envelope.session.as_ref().unwrap();
    assert!(session.new);
    assert_eq!(session.attributes.as_ref().unwrap()["key"], "string value");
    let system = envelope.system().unwrap();
    assert_eq!(
        system.api_endpoint.as_deref(),
        Some("https://api.amazonalexa.com")
    );
    assert_eq!(system.api_access_token.as_deref(), Some("AxThk"));
    let device = system.device.as_ref().unwrap();
    assert!(device.supported_interfaces.contains_key("AudioPlayer"));
    // Credentials stay out of debug output.
    let debug = format!("{envelope:?}");
    assert!(
        !debug.contains("Atza|AAAAAAAA") && !debug.contains("AxThk"),
        "{debug}"
    );
}

#[test]
fn the_order_intent_reads_with_resolved_slots() {
    let envelope = parse("order-intent.json");
    let Request::Intent(IntentRequest {
        dialog_state,
        intent: Some(intent),
        ..
    }) = &envelope.request
    else {
        panic!("not an intent: {:?}", envelope.request);
    };
    assert_eq!(dialog_state, &Some(DialogState::Completed));
    assert_eq!(intent.name, IntentName::GetMeSomePizza);
    assert_eq!(intent.confirmation_status, Some(ConfirmationStatus::None));
    assert_eq!(intent.slot("Size"), Some("large"), "the resolved value");
    assert_eq!(intent.slot("Toppings"), Some("pepperoni and anchovies"));
    let resolution = &intent.slots["Toppings"]
        .resolutions
        .as_ref()
        .unwrap()
        .per_authority[0];
    assert_eq!(
        resolution.status.as_ref().unwrap().code,
        ResolutionCode::SuccessNoMatch
    );
    assert_eq!(
        envelope.request.intent().map(|i| i.name.as_str()),
        Some("GetMeSomePizzaIntent")
    );

    let authorize = parse("authorize-intent.json");
    let intent = authorize.request.intent().unwrap();
    assert_eq!(intent.name, IntentName::AuthorizePizzaOrder);
    assert_eq!(intent.slot("Code"), Some("7705"));
}

#[test]
fn session_ends_and_exceptions_keep_their_reason_and_error() {
    let ended = parse("session-ended-error.json");
    let Request::SessionEnded(request) = &ended.request else {
        panic!("{:?}", ended.request);
    };
    assert_eq!(request.reason, Some(SessionEndedReason::Error));
    let error = request.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorType::InvalidResponse);
    assert_eq!(error.message.as_deref(), Some("The response is invalid."));

    let exception = parse("exception-encountered.json");
    let Request::ExceptionEncountered(request) = &exception.request else {
        panic!("{:?}", exception.request);
    };
    assert_eq!(
        request.cause.as_ref().unwrap().request_id.as_deref(),
        Some("amzn1.echo-api.request.0000000-0000-0000-0000-00000000000")
    );
    assert_eq!(exception.request.type_name(), "System.ExceptionEncountered");

    let other = parse("audio-player-playback-started.json");
    assert!(matches!(other.request, Request::Unsupported(_)));
    assert_eq!(other.request.type_name(), "AudioPlayer.PlaybackStarted");
}

#[test]
fn a_built_request_serializes_as_alexa_spells_it() {
    let user = User {
        user_id: Some("amzn1.ask.account.u".into()),
        access_token: Some("token".into()),
    };
    let envelope = RequestEnvelope {
        session: Some(Session {
            new: true,
            session_id: Some("amzn1.echo-api.session.s".into()),
            application: Some(Application::new("amzn1.ask.skill.x")),
            attributes: Some(serde_json::Map::new()),
            user: Some(user.clone()),
        }),
        context: Some(Context {
            system: Some(System {
                application: Some(Application::new("amzn1.ask.skill.x")),
                user: Some(user),
                device: Some(Device {
                    device_id: Some("amzn1.ask.device.d".into()),
                    ..Device::default()
                }),
                api_endpoint: Some("https://api.amazonalexa.com".into()),
                api_access_token: None,
            }),
        }),
        ..RequestEnvelope::new(Request::Intent(IntentRequest {
            common: RequestCommon::new("amzn1.echo-api.request.r", "2026-11-24T21:30:00Z", "en-US"),
            dialog_state: Some(DialogState::Completed),
            intent: Some(
                Intent::new(IntentName::AuthorizePizzaOrder).with_slot("Code", Slot::heard("1234")),
            ),
        }))
    };
    let json = serde_json::to_value(&envelope).unwrap();
    assert_eq!(
        json,
        json!({
            "version": "1.0",
            "session": {
                "new": true, "sessionId": "amzn1.echo-api.session.s",
                "application": {"applicationId": "amzn1.ask.skill.x"}, "attributes": {},
                "user": {"userId": "amzn1.ask.account.u", "accessToken": "token"}
            },
            "context": {"System": {
                "application": {"applicationId": "amzn1.ask.skill.x"},
                "user": {"userId": "amzn1.ask.account.u", "accessToken": "token"},
                "device": {"deviceId": "amzn1.ask.device.d", "supportedInterfaces": {}},
                "apiEndpoint": "https://api.amazonalexa.com"
            }},
            "request": {
                "type": "IntentRequest", "requestId": "amzn1.echo-api.request.r",
                "timestamp": "2026-11-24T21:30:00Z", "locale": "en-US", "dialogState": "COMPLETED",
                "intent": {"name": "AuthorizePizzaOrderIntent", "confirmationStatus": "NONE",
                    "slots": {"Code": {"name": "Code", "value": "1234", "confirmationStatus": "NONE"}}}
            }
        })
    );
    let back: RequestEnvelope = serde_json::from_value(json).unwrap();
    assert_eq!(back, envelope);
}

#[test]
fn responses_round_trip_and_read_back() {
    let answers = [
        ResponseEnvelope::ask("Welcome.", "Say something.").with_simple_card("T", "C"),
        ResponseEnvelope::tell("Link your account.").with_link_account_card(),
        ResponseEnvelope::empty(),
    ];
    for answer in answers {
        let json = serde_json::to_string(&answer).unwrap();
        let back: ResponseEnvelope = serde_json::from_str(&json).unwrap();
        assert_eq!(back, answer, "{json}");
    }
    let read: ResponseEnvelope = serde_json::from_value(json!({
        "version": "1.0",
        "response": {
            "outputSpeech": {"type": "PlainText", "text": "Order confirmed."},
            "card": {"type": "LinkAccount"},
            "reprompt": {"outputSpeech": {"type": "SSML", "ssml": "<speak>Again?</speak>"}},
            "shouldEndSession": false,
            "directives": []
        }
    }))
    .unwrap();
    assert_eq!(read.speech(), Some("Order confirmed."));
    assert_eq!(read.reprompt(), Some("<speak>Again?</speak>"));
    assert_eq!(read.response.card, Some(Card::LinkAccount));
    assert!(!read.ends_session());
}

// ---------------------------------------------------------------------------
// Properties

/// Any JSON, with keys drawn mostly from Alexa's field names so that the
/// values reach deep into the envelope.
fn any_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        3 => prop::sample::select(vec![
            "version", "session", "context", "System", "request", "type", "requestId",
            "timestamp", "locale", "intent", "name", "slots", "value", "resolutions",
            "resolutionsPerAuthority", "status", "code", "values", "user", "accessToken",
            "application", "applicationId", "device", "supportedInterfaces", "reason",
            "error", "cause", "dialogState", "confirmationStatus", "response",
            "outputSpeech", "text", "ssml", "card", "reprompt", "shouldEndSession",
            "sessionAttributes", "attributes", "new", "sessionId", "apiAccessToken",
        ])
        .prop_map(str::to_owned),
        1 => "[a-zA-Z]{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "LaunchRequest",
            "IntentRequest",
            "SessionEndedRequest",
            "System.ExceptionEncountered",
            "GetMeSomePizzaIntent",
            "AMAZON.HelpIntent",
            "ER_SUCCESS_MATCH",
            "COMPLETED",
            "NONE",
            "ERROR",
            "PlainText",
            "SSML",
            "Simple",
            "LinkAccount",
            "2026-11-24T21:30:00Z",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
        ".{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A sample with one value somewhere replaced by arbitrary JSON.
fn mutated_sample() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(SAMPLES.to_vec()),
        any::<prop::sample::Index>(),
        any_json(),
    )
        .prop_map(|(name, at, replacement)| {
            let mut json: Value = serde_json::from_str(&sample(name)).unwrap();
            let mut paths = Vec::new();
            collect_paths(&json, &mut Vec::new(), &mut paths);
            let path = at.get(&paths).clone();
            let mut target = &mut json;
            for key in &path {
                target = match target {
                    Value::Object(map) => map.get_mut(key).unwrap(),
                    Value::Array(items) => &mut items[key.parse::<usize>().unwrap()],
                    _ => unreachable!(),
                };
            }
            *target = replacement;
            json
        })
}

fn collect_paths(value: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    for (key, child) in children {
        at.push(key);
        collect_paths(child, at, out);
        at.pop();
    }
}

/// Whatever parses, serializes and parses back to the same value.
fn check_round_trip(json: &Value) -> Result<(), TestCaseError> {
    if let Ok(envelope) = serde_json::from_value::<RequestEnvelope>(json.clone()) {
        let again = serde_json::to_value(&envelope).unwrap();
        let back: RequestEnvelope = serde_json::from_value(again).unwrap();
        prop_assert_eq!(back, envelope);
    }
    if let Ok(answer) = serde_json::from_value::<ResponseEnvelope>(json.clone()) {
        let again = serde_json::to_value(&answer).unwrap();
        let back: ResponseEnvelope = serde_json::from_value(again).unwrap();
        prop_assert_eq!(back, answer);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = serde_json::from_slice::<RequestEnvelope>(&bytes);
        let _ = serde_json::from_slice::<ResponseEnvelope>(&bytes);
    }

    #[test]
    fn parsing_arbitrary_json_never_panics_and_round_trips(json in any_json()) {
        check_round_trip(&json)?;
    }

    #[test]
    fn mutated_samples_never_panic_and_round_trip(json in mutated_sample()) {
        check_round_trip(&json)?;
        // Reading everything the skill reads never panics either.
        if let Ok(envelope) = serde_json::from_value::<RequestEnvelope>(json) {
            let _ = (envelope.access_token(), envelope.application_id(), envelope.request.type_name());
            if let Some(intent) = envelope.request.intent() {
                for name in ["Size", "Toppings", "Code"] {
                    let _ = intent.slot(name);
                }
            }
        }
    }
}
