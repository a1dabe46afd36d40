//! Definition parsing under generated input: whatever JSON arrives, parsing never
//! panics, every refusal names the place it is about and says what is wrong, and what
//! parses reads back as itself and keeps its secrets through masking.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

use junction::domain::definition::Definition;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// The words definitions are made of, so that generated objects often come close
/// to valid ones (and reach the deeper checks) rather than failing at the top.
const KEYS: [&str; 16] = [
    "trigger",
    "steps",
    "kind",
    "path",
    "every_seconds",
    "method",
    "url",
    "headers",
    "template",
    "condition",
    "message",
    "auth",
    "scheme",
    "secret",
    "header",
    "timeout_seconds",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            "webhook",
            "timer",
            "log",
            "transform",
            "filter",
            "http",
            "POST",
            "GET",
            "bearer",
            "hmac_sha256",
            "orders",
            "https://example.com/x?token=a",
            "http://u:p@h/",
            "{{ body.id }}",
            "{% for i in range(3) %}x{% endfor %}",
            "{{",
            "********",
            "content-length",
            "x-api-key",
            "",
            " ",
            "a secret of sixteen+",
        ])
        .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(KEYS.to_vec()).prop_map(String::from),
                        ".{0,8}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A valid definition with some of its parts replaced by generated values.
fn near_valid() -> impl Strategy<Value = Value> {
    let base = json!({
        "trigger": { "kind": "webhook", "path": "orders",
                     "auth": { "scheme": "bearer", "secret": "a secret of sixteen+" } },
        "steps": [
            { "kind": "filter", "condition": "body.qty > 0" },
            { "kind": "transform", "template": { "id": "{{ body.id }}" } },
            { "kind": "http", "method": "POST", "url": "https://bob:pw@example.com/x?token=t",
              "headers": { "x-api-key": "k" }, "timeout_seconds": 5 },
            { "kind": "log", "message": "done" }
        ]
    });
    let places = vec![
        "/trigger",
        "/trigger/kind",
        "/trigger/path",
        "/trigger/auth",
        "/trigger/auth/secret",
        "/steps",
        "/steps/0",
        "/steps/0/condition",
        "/steps/1/template",
        "/steps/1/template/id",
        "/steps/2/url",
        "/steps/2/headers",
        "/steps/2/method",
        "/steps/2/timeout_seconds",
        "/steps/3/kind",
        "/steps/3/message",
    ];
    prop::collection::vec((prop::sample::select(places), json_value()), 1..4).prop_map(
        move |changes| {
            let mut definition = base.clone();
            for (place, value) in changes {
                if let Some(slot) = definition.pointer_mut(place) {
                    *slot = value;
                }
            }
            definition
        },
    )
}

fn check(input: &Value) -> Result<(), TestCaseError> {
    match Definition::parse(input) {
        Ok(definition) => {
            let again = Definition::parse(&definition.to_value());
            prop_assert_eq!(again.as_ref(), Ok(&definition), "reads back as itself");
            let mut edited = definition.masked();
            let restored = edited.unmask_from(&definition);
            prop_assert!(restored.is_ok(), "{restored:?}");
            prop_assert_eq!(&edited, &definition, "masking keeps every secret behind it");
        }
        Err(errors) => {
            prop_assert!(!errors.is_empty());
            for error in errors {
                prop_assert!(!error.message.trim().is_empty(), "{error:?} says nothing");
                // The empty path is the definition itself (the API calls it
                // `definition`): only for input that is not an object at all.
                prop_assert!(
                    !error.path.trim().is_empty() || !input.is_object(),
                    "{error:?} names no place"
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_json_parses_or_is_refused_naming_each_place(input in json_value()) {
        check(&input)?;
    }

    #[test]
    fn a_definition_with_parts_replaced_parses_or_is_refused_naming_each_place(input in near_valid()) {
        check(&input)?;
    }
}
