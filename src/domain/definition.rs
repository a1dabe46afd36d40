//! The definition of an integration: a trigger, then steps. The JSON form is public
//! (the API and exports use it as is), so parsing is strict: unknown fields are errors,
//! and every problem is reported with where it is (`steps[2].url`), not just the first.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

use crate::error::FieldError;

pub const MAX_STEPS: usize = 50;
pub const MAX_TIMER_SECONDS: u64 = 86_400;
pub const MAX_HTTP_TIMEOUT_SECONDS: u64 = 300;
const MAX_TEXT_CHARS: usize = 4000;

/// A flow: what starts it, and what happens to each message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Definition {
    pub trigger: Trigger,
    pub steps: Vec<Step>,
}

/// What starts a flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// `POST /hooks/{path}` with a JSON body.
    Webhook { path: String },
    /// Every N seconds.
    Timer { every_seconds: u64 },
}

/// One step of a flow.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// Writes a templated message to the activity and the server log.
    Log { message: String },
    /// Builds a new body from a template whose string leaves are templates.
    Transform { template: Value },
    /// Drops the message unless the condition holds.
    Filter { condition: String },
    /// Sends the body as JSON; a JSON answer becomes the new body.
    Http {
        method: HttpMethod,
        url: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_seconds: Option<u64>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    const ALL: [(&'static str, HttpMethod); 5] = [
        ("GET", HttpMethod::Get),
        ("POST", HttpMethod::Post),
        ("PUT", HttpMethod::Put),
        ("PATCH", HttpMethod::Patch),
        ("DELETE", HttpMethod::Delete),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, method)| *method == self)
            .map_or("POST", |(name, _)| name)
    }
}

/// What a header value is shown as once stored: secrets are never shown back.
pub const MASK: &str = "********";

impl Definition {
    /// The definition a new integration starts with: a webhook named after it.
    pub fn starter(name: &str) -> Self {
        let mut path: String = name
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        while path.contains("--") {
            path = path.replace("--", "-");
        }
        let path = path.trim_matches('-').chars().take(64).collect::<String>();
        let path = path.trim_matches('-').to_owned();
        Self {
            trigger: Trigger::Webhook {
                path: if path.is_empty() { "hook".into() } else { path },
            },
            steps: Vec::new(),
        }
    }

    /// Parses JSON text, reporting every problem found.
    pub fn parse_str(text: &str) -> Result<Self, Vec<FieldError>> {
        let value: Value = crate::json::parse(text).map_err(|err| {
            vec![FieldError::new(
                "definition",
                format!("not valid JSON: {err}"),
            )]
        })?;
        Self::parse(&value)
    }

    /// Parses a JSON value, reporting every problem found.
    pub fn parse(value: &Value) -> Result<Self, Vec<FieldError>> {
        let mut errors = Errors::default();
        let definition = parse_definition(value, &mut errors);
        match (definition, errors.0.is_empty()) {
            (Some(definition), true) => Ok(definition),
            _ => Err(errors.0),
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The canonical text: keys sorted, no white space. Its hash identifies the content.
    pub fn canonical_json(&self) -> String {
        // serde_json's maps are ordered by key, so the text is canonical.
        self.to_value().to_string()
    }

    /// The same definition with every header value replaced by [`MASK`].
    pub fn masked(&self) -> Self {
        let mut copy = self.clone();
        for step in &mut copy.steps {
            if let Step::Http { headers, .. } = step {
                for value in headers.values_mut() {
                    *value = MASK.to_owned();
                }
            }
        }
        copy
    }

    /// Where an edit sends back a masked header value, keeps the stored secret: the
    /// editor never saw it, so it cannot mean to change it. Secrets are matched by the
    /// step's URL and the header's name.
    pub fn unmask_from(&mut self, stored: &Definition) {
        let stored_headers: Vec<(&String, &BTreeMap<String, String>)> = stored
            .steps
            .iter()
            .filter_map(|step| match step {
                Step::Http { url, headers, .. } => Some((url, headers)),
                Step::Log { .. } | Step::Transform { .. } | Step::Filter { .. } => None,
            })
            .collect();
        for step in &mut self.steps {
            let Step::Http { url, headers, .. } = step else {
                continue;
            };
            let previous = stored_headers
                .iter()
                .find(|(stored_url, _)| *stored_url == url)
                .map(|(_, headers)| *headers);
            for (name, value) in headers.iter_mut() {
                if value == MASK
                    && let Some(secret) = previous.and_then(|headers| headers.get(name))
                {
                    value.clone_from(secret);
                }
            }
        }
    }

    /// The webhook path, for flows a webhook starts.
    pub fn webhook_path(&self) -> Option<&str> {
        match &self.trigger {
            Trigger::Webhook { path } => Some(path),
            Trigger::Timer { .. } => None,
        }
    }
}

impl<'de> Deserialize<'de> for Definition {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Definition::parse(&value).map_err(|errors| {
            serde::de::Error::custom(
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.path, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
    }
}

#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn add(&mut self, path: &str, message: impl ToString) {
        self.0.push(FieldError::new(path, message));
    }
}

/// The fields of an object, checked for ones that have no meaning here.
struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn of(value: &'a Value, path: &str, what: &str, errors: &mut Errors) -> Option<Self> {
        match value.as_object() {
            Some(map) => Some(Self {
                path: path.to_owned(),
                map,
            }),
            None => {
                errors.add(path, format!("must be {what} (an object)"));
                None
            }
        }
    }

    fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn only(&self, allowed: &[&str], errors: &mut Errors) {
        for key in self.map.keys() {
            if !allowed.contains(&key.as_str()) {
                errors.add(
                    &self.at(key),
                    format!("unknown field (expected one of: {})", allowed.join(", ")),
                );
            }
        }
    }

    fn required(&self, key: &str, errors: &mut Errors) -> Option<&'a Value> {
        let value = self.map.get(key);
        if value.is_none() {
            errors.add(&self.at(key), "is required");
        }
        value
    }

    fn text(&self, key: &str, errors: &mut Errors) -> Option<String> {
        let value = self.required(key, errors)?;
        match value.as_str() {
            Some(text) if text.chars().count() > MAX_TEXT_CHARS => {
                errors.add(
                    &self.at(key),
                    format!("is at most {MAX_TEXT_CHARS} characters"),
                );
                None
            }
            Some(text) => Some(text.to_owned()),
            None => {
                errors.add(&self.at(key), "must be a string");
                None
            }
        }
    }

    fn whole_number(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
        errors: &mut Errors,
    ) -> Option<u64> {
        let value = self.required(key, errors)?;
        match value.as_u64() {
            Some(number) if range.contains(&number) => Some(number),
            _ => {
                errors.add(
                    &self.at(key),
                    format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
        }
    }
}

fn parse_definition(value: &Value, errors: &mut Errors) -> Option<Definition> {
    let fields = Fields::of(value, "", "a definition", errors)?;
    fields.only(&["trigger", "steps"], errors);
    let trigger = fields
        .required("trigger", errors)
        .and_then(|trigger| parse_trigger(trigger, errors));
    let steps = match fields.map.get("steps") {
        None => Some(Vec::new()),
        Some(Value::Array(items)) => {
            if items.len() > MAX_STEPS {
                errors.add(
                    "steps",
                    format!("at most {MAX_STEPS} steps (there are {})", items.len()),
                );
            }
            let parsed: Vec<Option<Step>> = items
                .iter()
                .enumerate()
                .map(|(index, item)| parse_step(item, &format!("steps[{index}]"), errors))
                .collect();
            parsed.into_iter().collect()
        }
        Some(_) => {
            errors.add("steps", "must be a list of steps");
            None
        }
    };
    Some(Definition {
        trigger: trigger?,
        steps: steps?,
    })
}

fn parse_trigger(value: &Value, errors: &mut Errors) -> Option<Trigger> {
    let fields = Fields::of(value, "trigger", "a trigger", errors)?;
    match fields.text("kind", errors)?.as_str() {
        "webhook" => {
            fields.only(&["kind", "path"], errors);
            let path = fields.text("path", errors)?;
            let valid = (1..=64).contains(&path.len())
                && path
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                errors.add(
                    "trigger.path",
                    "must be 1 to 64 characters from a-z, 0-9 and -",
                );
                return None;
            }
            Some(Trigger::Webhook { path })
        }
        "timer" => {
            fields.only(&["kind", "every_seconds"], errors);
            let every_seconds =
                fields.whole_number("every_seconds", 1..=MAX_TIMER_SECONDS, errors)?;
            Some(Trigger::Timer { every_seconds })
        }
        other => {
            errors.add(
                "trigger.kind",
                format!("unknown trigger {other:?} (expected webhook or timer)"),
            );
            None
        }
    }
}

fn parse_step(value: &Value, path: &str, errors: &mut Errors) -> Option<Step> {
    let fields = Fields::of(value, path, "a step", errors)?;
    match fields.text("kind", errors)?.as_str() {
        "log" => {
            fields.only(&["kind", "message"], errors);
            Some(Step::Log {
                message: fields.text("message", errors)?,
            })
        }
        "transform" => {
            fields.only(&["kind", "template"], errors);
            let template = fields.required("template", errors)?;
            if template.is_null() {
                errors.add(&fields.at("template"), "must not be null");
                return None;
            }
            Some(Step::Transform {
                template: template.clone(),
            })
        }
        "filter" => {
            fields.only(&["kind", "condition"], errors);
            let condition = fields.text("condition", errors)?;
            if condition.trim().is_empty() {
                errors.add(&fields.at("condition"), "must not be empty");
                return None;
            }
            Some(Step::Filter { condition })
        }
        "http" => {
            fields.only(
                &["kind", "method", "url", "headers", "timeout_seconds"],
                errors,
            );
            let method = fields.text("method", errors).and_then(|method| {
                let found = HttpMethod::ALL
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(&method))
                    .map(|(_, method)| *method);
                if found.is_none() {
                    errors.add(
                        &fields.at("method"),
                        "must be one of GET, POST, PUT, PATCH, DELETE",
                    );
                }
                found
            });
            let url = fields.text("url", errors).and_then(|url| {
                if is_http_url(&url) {
                    Some(url)
                } else {
                    errors.add(&fields.at("url"), "not an http(s) URL");
                    None
                }
            });
            let headers = match fields.map.get("headers") {
                None => Some(BTreeMap::new()),
                Some(value) => parse_headers(value, &fields.at("headers"), errors),
            };
            let timeout_seconds = match fields.map.get("timeout_seconds") {
                None => Some(None),
                Some(_) => fields
                    .whole_number("timeout_seconds", 1..=MAX_HTTP_TIMEOUT_SECONDS, errors)
                    .map(Some),
            };
            Some(Step::Http {
                method: method?,
                url: url?,
                headers: headers?,
                timeout_seconds: timeout_seconds?,
            })
        }
        other => {
            errors.add(
                &fields.at("kind"),
                format!("unknown step {other:?} (expected log, transform, filter or http)"),
            );
            None
        }
    }
}

fn parse_headers(
    value: &Value,
    path: &str,
    errors: &mut Errors,
) -> Option<BTreeMap<String, String>> {
    let Some(map) = value.as_object() else {
        errors.add(path, "must be an object of header names to values");
        return None;
    };
    let mut headers = BTreeMap::new();
    let mut ok = true;
    for (name, value) in map {
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            errors.add(&format!("{path}.{name}"), "not a valid header name");
            ok = false;
            continue;
        }
        match value.as_str() {
            Some(text) if !text.contains(['\r', '\n']) => {
                headers.insert(name.to_ascii_lowercase(), text.to_owned());
            }
            Some(_) => {
                errors.add(&format!("{path}.{name}"), "must not contain line breaks");
                ok = false;
            }
            None => {
                errors.add(&format!("{path}.{name}"), "must be a string");
                ok = false;
            }
        }
    }
    ok.then_some(headers)
}

/// `http://host...` or `https://host...` with a non-empty host and no white space.
fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or("");
            !host.is_empty() && !host.starts_with(':') && !url.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors_of(value: Value) -> Vec<String> {
        Definition::parse(&value)
            .unwrap_err()
            .into_iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect()
    }

    #[test]
    fn the_specifications_example_parses() {
        let value = json!({
            "trigger": { "kind": "webhook", "path": "orders" },
            "steps": [
                { "kind": "filter", "condition": "body.qty > 0" },
                { "kind": "transform", "template": { "id": "{{ body.id }}", "total": "{{ body.qty * body.price }}" } },
                { "kind": "log", "message": "order {{ body.id }} totals {{ body.total }}" },
                { "kind": "http", "method": "POST", "url": "http://127.0.0.1:9000/orders",
                  "headers": { "x-api-key": "secret" } }
            ]
        });
        let definition = Definition::parse(&value).unwrap();
        assert_eq!(definition.steps.len(), 4);
        assert_eq!(definition.to_value(), value, "the JSON form round-trips");
    }

    #[test]
    fn a_timer_runs_every_1_to_86400_seconds() {
        assert!(
            Definition::parse(&json!({"trigger": {"kind": "timer", "every_seconds": 86400}}))
                .is_ok()
        );
        assert_eq!(
            errors_of(json!({"trigger": {"kind": "timer", "every_seconds": 0}})),
            ["trigger.every_seconds: must be a whole number from 1 to 86400"]
        );
    }

    #[test]
    fn a_webhook_path_is_a_lower_case_slug() {
        assert_eq!(
            errors_of(json!({"trigger": {"kind": "webhook", "path": "Orders/new"}})),
            ["trigger.path: must be 1 to 64 characters from a-z, 0-9 and -"]
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_location() {
        let errors = errors_of(json!({
            "trigger": { "kind": "webhook", "path": "ok" },
            "steps": [
                { "kind": "log", "message": "fine" },
                { "kind": "filter" },
                { "kind": "http", "method": "POST", "url": "ftp://example.com" },
                { "kind": "teleport" }
            ],
            "colour": "blue"
        }));
        assert_eq!(
            errors,
            [
                "colour: unknown field (expected one of: trigger, steps)",
                "steps[1].condition: is required",
                "steps[2].url: not an http(s) URL",
                "steps[3].kind: unknown step \"teleport\" (expected log, transform, filter or http)",
            ]
        );
    }

    #[test]
    fn unknown_fields_in_a_step_are_errors_not_dropped() {
        assert_eq!(
            errors_of(json!({"trigger": {"kind": "webhook", "path": "a"},
                             "steps": [{"kind": "log", "message": "m", "level": "debug"}]})),
            ["steps[0].level: unknown field (expected one of: kind, message)"]
        );
    }

    #[test]
    fn at_most_50_steps() {
        let steps: Vec<Value> = (0..51)
            .map(|_| json!({"kind": "log", "message": "m"}))
            .collect();
        assert_eq!(
            errors_of(json!({"trigger": {"kind": "webhook", "path": "a"}, "steps": steps})),
            ["steps: at most 50 steps (there are 51)"]
        );
    }

    #[test]
    fn invalid_json_text_is_named_as_such() {
        let errors = Definition::parse_str("{ not json").unwrap_err();
        assert_eq!(errors[0].path, "definition");
        assert!(errors[0].message.starts_with("not valid JSON"));
    }

    #[test]
    fn header_values_are_masked_and_an_unchanged_mask_keeps_the_secret() {
        let stored = Definition::parse(&json!({"trigger": {"kind": "webhook", "path": "a"},
            "steps": [{"kind": "http", "method": "POST", "url": "http://h/x", "headers": {"x-api-key": "s3cret"}}]})).unwrap();
        let shown = stored.masked();
        assert!(!shown.canonical_json().contains("s3cret"));

        let mut edited = shown.clone();
        edited.unmask_from(&stored);

        assert_eq!(edited, stored);
    }

    #[test]
    fn a_starter_definition_has_a_webhook_named_after_the_integration() {
        let starter = Definition::starter("Order Sync — EU!");
        assert_eq!(starter.webhook_path(), Some("order-sync-eu"));
        assert!(Definition::parse(&starter.to_value()).is_ok());
    }

    #[test]
    fn the_canonical_form_does_not_depend_on_key_order() {
        let a = Definition::parse(
            &serde_json::from_str(r#"{"steps":[],"trigger":{"path":"a","kind":"webhook"}}"#)
                .unwrap(),
        )
        .unwrap();
        let b =
            Definition::parse(&json!({"trigger": {"kind": "webhook", "path": "a"}, "steps": []}))
                .unwrap();
        assert_eq!(a.canonical_json(), b.canonical_json());
    }
}
