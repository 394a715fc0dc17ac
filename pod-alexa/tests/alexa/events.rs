//! Skill events and `CanFulfillIntentRequest`, typed: the samples read as
//! documented, built values serialize as Alexa spells them, and the
//! `canFulfillIntent` answer has Amazon's shape.

use std::collections::BTreeMap;

use pod_alexa::envelope::{
    CanFulfill, CanFulfillIntent, CanFulfillIntentRequest, CanFulfillSlot, Context, Intent,
    IntentName, Permission, Request, RequestCommon, RequestEnvelope, ResponseEnvelope,
    SkillEventBody, SkillEventKind, SkillEventRequest, Slot, System, User,
};
use serde_json::{Value, json};

fn parse(name: &str) -> RequestEnvelope {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/requests")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn event(envelope: &RequestEnvelope) -> &SkillEventRequest {
    match &envelope.request {
        Request::SkillEvent(event) => event,
        other => panic!("not a skill event: {other:?}"),
    }
}

#[test]
fn account_linked_carries_the_new_token_and_hides_it_from_debug() {
    let envelope = parse("skill-account-linked.json");
    let linked = event(&envelope);
    assert_eq!(linked.kind, SkillEventKind::AccountLinked);
    assert_eq!(
        envelope.request.type_name(),
        "AlexaSkillEvent.SkillAccountLinked"
    );
    assert!(envelope.request.is_skill_event());
    assert_eq!(
        linked.body_access_token(),
        Some("eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl")
    );
    assert_eq!(
        linked.event_creation_time.as_deref(),
        Some("2026-11-24T21:29:58Z")
    );
    assert_eq!(envelope.request.timestamp(), "2026-11-24T21:30:00Z");
    assert_eq!(envelope.session, None, "events come outside a session");
    let user = envelope.system().unwrap().user.as_ref().unwrap();
    assert_eq!(
        user.user_id.as_deref(),
        Some("amzn1.ask.account.pod-simulator")
    );
    let debug = format!("{envelope:?}");
    assert!(!debug.contains("c2lnbmF0dXJl"), "{debug}");
}

#[test]
fn disabled_and_permission_events_read_their_bodies() {
    let disabled = parse("skill-disabled.json");
    let body = event(&disabled).body.as_ref().unwrap();
    assert_eq!(event(&disabled).kind, SkillEventKind::Disabled);
    assert_eq!(
        body.user_information_persistence_status.as_deref(),
        Some("PERSISTED")
    );
    assert_eq!(event(&disabled).body_access_token(), None);

    let accepted = parse("skill-permission-accepted.json");
    assert_eq!(event(&accepted).kind, SkillEventKind::PermissionAccepted);
    assert_eq!(
        event(&accepted).accepted_scopes(),
        [
            "alexa::profile:email:read",
            "alexa::profile:given_name:read"
        ]
    );
}

#[test]
fn every_subscribed_event_type_is_typed_and_others_stay_unsupported() {
    for (kind, name) in [
        (SkillEventKind::Enabled, "AlexaSkillEvent.SkillEnabled"),
        (SkillEventKind::Disabled, "AlexaSkillEvent.SkillDisabled"),
        (
            SkillEventKind::AccountLinked,
            "AlexaSkillEvent.SkillAccountLinked",
        ),
        (
            SkillEventKind::PermissionAccepted,
            "AlexaSkillEvent.SkillPermissionAccepted",
        ),
        (
            SkillEventKind::PermissionChanged,
            "AlexaSkillEvent.SkillPermissionChanged",
        ),
    ] {
        let json = json!({"request": {"type": name, "timestamp": "t"}});
        let envelope: RequestEnvelope = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(event(&envelope).kind, kind);
        assert_eq!(envelope.request.type_name(), name);
        assert_eq!(
            serde_json::to_value(&envelope).unwrap()["request"],
            json["request"]
        );
    }
    let other: RequestEnvelope = serde_json::from_value(
        json!({"request": {"type": "AlexaSkillEvent.SkillSomethingNew", "timestamp": "t"}}),
    )
    .unwrap();
    assert!(matches!(other.request, Request::Unsupported(_)));
    assert!(!other.request.is_skill_event());
}

#[test]
fn a_built_event_serializes_as_alexa_spells_it() {
    let mut envelope = RequestEnvelope::new(Request::SkillEvent(SkillEventRequest {
        common: RequestCommon {
            request_id: Some("r".into()),
            timestamp: "2026-11-24T21:30:00Z".into(),
            locale: None,
        },
        kind: SkillEventKind::PermissionChanged,
        body: Some(SkillEventBody {
            accepted_permissions: vec![Permission {
                scope: "alexa::profile:mobile_number:read".into(),
            }],
            ..SkillEventBody::default()
        }),
        event_creation_time: Some("2026-11-24T21:29:00Z".into()),
        event_publishing_time: None,
    }));
    envelope.context = Some(Context {
        system: Some(System {
            user: Some(User {
                user_id: Some("amzn1.ask.account.A".into()),
                access_token: None,
            }),
            ..System::default()
        }),
    });
    let json = serde_json::to_value(&envelope).unwrap();
    assert_eq!(
        json["request"],
        json!({
            "type": "AlexaSkillEvent.SkillPermissionChanged",
            "requestId": "r",
            "timestamp": "2026-11-24T21:30:00Z",
            "body": {"acceptedPermissions": [{"scope": "alexa::profile:mobile_number:read"}]},
            "eventCreationTime": "2026-11-24T21:29:00Z"
        })
    );
    let back: RequestEnvelope = serde_json::from_value(json).unwrap();
    assert_eq!(back, envelope);
}

#[test]
fn can_fulfill_requests_read_their_intent() {
    let envelope = parse("can-fulfill-intent.json");
    let Request::CanFulfillIntent(CanFulfillIntentRequest { intent, common, .. }) =
        &envelope.request
    else {
        panic!("not a CanFulfillIntentRequest: {:?}", envelope.request)
    };
    assert_eq!(common.locale.as_deref(), Some("en-US"));
    let intent = intent.as_ref().unwrap();
    assert_eq!(intent.name, IntentName::GetMeSomePizza);
    assert_eq!(intent.slot("Size"), Some("large"));
    assert_eq!(envelope.request.intent(), Some(intent));
    assert_eq!(envelope.request.type_name(), "CanFulfillIntentRequest");
    assert!(!envelope.request.is_skill_event());

    let built = RequestEnvelope::new(Request::CanFulfillIntent(CanFulfillIntentRequest {
        common: RequestCommon::new("r", "t", "de-DE"),
        dialog_state: None,
        intent: Some(
            Intent::new(IntentName::AuthorizePizzaOrder).with_slot("Code", Slot::heard("1234")),
        ),
    }));
    let json = serde_json::to_value(&built).unwrap();
    assert_eq!(json["request"]["type"], "CanFulfillIntentRequest");
    assert_eq!(json["request"]["intent"]["slots"]["Code"]["value"], "1234");
    assert_eq!(
        serde_json::from_value::<RequestEnvelope>(json).unwrap(),
        built
    );
}

#[test]
fn the_can_fulfill_answer_has_amazons_shape() {
    let answer = ResponseEnvelope::can_fulfill(CanFulfillIntent {
        can_fulfill: CanFulfill::Maybe,
        slots: BTreeMap::from([
            (
                "Size".to_owned(),
                CanFulfillSlot {
                    can_understand: CanFulfill::Yes,
                    can_fulfill: CanFulfill::Yes,
                },
            ),
            (
                "Toppings".to_owned(),
                CanFulfillSlot {
                    can_understand: CanFulfill::No,
                    can_fulfill: CanFulfill::No,
                },
            ),
        ]),
    });
    let json = serde_json::to_value(&answer).unwrap();
    assert_eq!(
        json,
        json!({
            "version": "1.0",
            "response": {
                "canFulfillIntent": {
                    "canFulfill": "MAYBE",
                    "slots": {
                        "Size": {"canUnderstand": "YES", "canFulfill": "YES"},
                        "Toppings": {"canUnderstand": "NO", "canFulfill": "NO"}
                    }
                }
            }
        })
    );
    assert_eq!(answer.speech(), None);
    let back: ResponseEnvelope = serde_json::from_value(json).unwrap();
    assert_eq!(back, answer);
    let no: Value = serde_json::to_value(ResponseEnvelope::can_fulfill(CanFulfillIntent {
        can_fulfill: CanFulfill::No,
        slots: BTreeMap::new(),
    }))
    .unwrap();
    assert_eq!(
        no["response"],
        json!({"canFulfillIntent": {"canFulfill": "NO"}})
    );
}
