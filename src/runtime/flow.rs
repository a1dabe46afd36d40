//! A flow compiled for running: every template and condition is compiled once, when
//! the version is built, into one template environment; each message then only
//! renders.

use minijinja::{Environment, UndefinedBehavior, Value as TemplateValue, context};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::egress::HttpEgress;
use crate::domain::definition::{Definition, HttpMethod, Step, StepKind, Trigger};

/// How long an http step waits for an answer unless its definition says otherwise.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The most work one template may do for one message: a runaway loop fails the step
/// instead of stalling the server.
const TEMPLATE_FUEL: u64 = 200_000;

/// A template or condition that does not compile, located in the definition.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct BuildError {
    pub path: String,
    pub message: String,
}

/// One template environment for every flow in the process, so that the built-in
/// filters, tests and globals exist once rather than once per running flow. Templates
/// are shared by their source: minijinja keeps about 9 KB per compiled template
/// whatever its size (it preallocates its instruction buffers), so 10,000 running flows
/// that each say `{{ body.id }}` would hold 90 MB of copies of one template. Each is
/// counted, and removed when the last flow using it is dropped.
#[derive(Clone)]
pub struct Templates(Arc<RwLock<Shared>>);

struct Shared {
    env: Environment<'static>,
    /// The name of the template compiled from each source.
    by_source: HashMap<String, String>,
    /// Each template's source and how many flows use it.
    by_name: HashMap<String, (String, usize)>,
    next: u64,
}

impl Default for Templates {
    fn default() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.set_fuel(Some(TEMPLATE_FUEL));
        // Output is JSON and log text, never HTML: nothing is escaped.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        Self(Arc::new(RwLock::new(Shared {
            env,
            by_source: HashMap::new(),
            by_name: HashMap::new(),
            next: 1,
        })))
    }
}

impl Templates {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Shared> {
        // Adding or removing a template cannot leave the environment half-changed.
        self.0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Shared> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many distinct templates are compiled (for tests).
    pub fn compiled(&self) -> usize {
        self.read().by_name.len()
    }
}

/// A flow ready to run.
pub struct CompiledFlow {
    pub trigger: Trigger,
    templates: Templates,
    /// The names of the templates this flow uses in the shared environment.
    names: Vec<String>,
    steps: Vec<CompiledStep>,
}

impl Drop for CompiledFlow {
    fn drop(&mut self) {
        let mut shared = self.templates.write();
        for name in &self.names {
            let unused = match shared.by_name.get_mut(name) {
                Some((_, uses)) => {
                    *uses -= 1;
                    *uses == 0
                }
                None => false,
            };
            if unused && let Some((source, _)) = shared.by_name.remove(name) {
                shared.by_source.remove(&source);
                shared.env.remove_template(name);
            }
        }
    }
}

/// A template of a flow: its name in the shared environment, and where it is in the
/// definition (errors name that, not the shared name).
struct TemplateRef {
    name: String,
    path: String,
}

/// Adds the templates of one flow, remembering which it uses; errors name the place
/// in the definition.
struct Builder<'a> {
    shared: &'a mut Shared,
    names: Vec<String>,
}

impl Builder<'_> {
    fn add(&mut self, path: &str, source: String) -> Result<TemplateRef, BuildError> {
        let shared = &mut *self.shared;
        let name = match shared.by_source.get(&source) {
            Some(name) => name.clone(),
            None => {
                let name = format!("template-{}", shared.next);
                shared
                    .env
                    .add_template_owned(name.clone(), source.clone())
                    .map_err(|err| BuildError {
                        path: path.to_owned(),
                        message: describe_template_error(&err).replace(&name, path),
                    })?;
                shared.next += 1;
                shared.by_source.insert(source.clone(), name.clone());
                shared.by_name.insert(name.clone(), (source, 0));
                name
            }
        };
        if let Some((_, uses)) = shared.by_name.get_mut(&name) {
            *uses += 1;
        }
        self.names.push(name.clone());
        Ok(TemplateRef {
            name,
            path: path.to_owned(),
        })
    }
}

enum CompiledStep {
    Log {
        template: TemplateRef,
    },
    Transform {
        template: Tree,
    },
    Filter {
        template: TemplateRef,
    },
    Http {
        method: HttpMethod,
        url: String,
        headers: BTreeMap<String, String>,
        timeout: Duration,
    },
}

/// A transform template: literal JSON, with string leaves compiled.
enum Tree {
    Literal(Value),
    /// Renders to a string.
    Text(TemplateRef),
    /// Exactly one `{{ expr }}`: keeps the expression's JSON type.
    Typed(TemplateRef),
    Array(Vec<Tree>),
    Object(Vec<(String, Tree)>),
}

/// How one message went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Filtered,
    Failed,
    /// A webhook call without the trigger's secret: the flow did not run.
    Refused,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Filtered => "filtered",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
        }
    }
}

/// How one step went, with a short detail for the activity list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepReport {
    pub index: usize,
    pub kind: &'static str,
    pub outcome: Outcome,
    pub detail: String,
}

/// What running a flow on one message gave.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Run {
    pub outcome: Outcome,
    pub steps: Vec<StepReport>,
    /// The body after the last step that ran.
    pub body: Value,
    pub error: Option<String>,
    /// Which step failed, if one did.
    pub failed_step: Option<usize>,
}

fn compile_steps(
    definition: &Definition,
    builder: &mut Builder<'_>,
) -> Result<Vec<CompiledStep>, BuildError> {
    let mut steps = Vec::with_capacity(definition.steps.len());
    for (index, step) in definition.steps.iter().enumerate() {
        let path = format!("steps[{index}]");
        steps.push(match step {
            Step::Log { message } => CompiledStep::Log {
                template: builder.add(&format!("{path}.message"), message.clone())?,
            },
            Step::Transform { template } => CompiledStep::Transform {
                template: compile_tree(builder, &format!("{path}.template"), template)?,
            },
            Step::Filter { condition } => CompiledStep::Filter {
                template: builder.add(
                    &format!("{path}.condition"),
                    format!("{{% if ({condition}) %}}true{{% else %}}false{{% endif %}}"),
                )?,
            },
            Step::Http {
                method,
                url,
                headers,
                timeout_seconds,
            } => CompiledStep::Http {
                method: *method,
                url: url.clone(),
                headers: headers.clone(),
                timeout: timeout_seconds.map_or(DEFAULT_HTTP_TIMEOUT, Duration::from_secs),
            },
        });
    }
    Ok(steps)
}

impl CompiledFlow {
    /// Compiles every template and condition of `definition` into `templates`.
    pub fn build(definition: &Definition, templates: &Templates) -> Result<Self, BuildError> {
        let mut shared = templates.write();
        let mut builder = Builder {
            shared: &mut shared,
            names: Vec::new(),
        };
        let steps = compile_steps(definition, &mut builder);
        let names = std::mem::take(&mut builder.names);
        drop(shared);
        let mut flow = Self {
            trigger: definition.trigger.clone(),
            templates: templates.clone(),
            names,
            steps: Vec::new(),
        };
        // On failure, dropping `flow` removes what was added before the error.
        flow.steps = steps?;
        Ok(flow)
    }

    /// Runs the flow on one message.
    pub async fn run(&self, mut body: Value, http: &HttpEgress) -> Run {
        let mut reports = Vec::with_capacity(self.steps.len());
        for (index, step) in self.steps.iter().enumerate() {
            let result = self.run_step(step, &body, http).await;
            let kind = step.kind();
            match result {
                Ok(StepResult::Continue { body: next, detail }) => {
                    reports.push(StepReport {
                        index,
                        kind,
                        outcome: Outcome::Ok,
                        detail,
                    });
                    if let Some(next) = next {
                        body = next;
                    }
                }
                Ok(StepResult::Drop) => {
                    reports.push(StepReport {
                        index,
                        kind,
                        outcome: Outcome::Filtered,
                        detail: "the condition does not hold: message dropped".into(),
                    });
                    return Run {
                        outcome: Outcome::Filtered,
                        steps: reports,
                        body,
                        error: None,
                        failed_step: None,
                    };
                }
                Err(error) => {
                    reports.push(StepReport {
                        index,
                        kind,
                        outcome: Outcome::Failed,
                        detail: short(&error),
                    });
                    return Run {
                        outcome: Outcome::Failed,
                        steps: reports,
                        body,
                        error: Some(format!("steps[{index}] ({kind}): {error}")),
                        failed_step: Some(index),
                    };
                }
            }
        }
        Run {
            outcome: Outcome::Ok,
            steps: reports,
            body,
            error: None,
            failed_step: None,
        }
    }

    async fn run_step(
        &self,
        step: &CompiledStep,
        body: &Value,
        http: &HttpEgress,
    ) -> Result<StepResult, String> {
        match step {
            CompiledStep::Log { template } => {
                let message = self.render(template, body)?;
                tracing::info!(target: "junction::flow", "{message}");
                Ok(StepResult::Continue {
                    body: None,
                    detail: short(&message),
                })
            }
            CompiledStep::Transform { template } => {
                let next = self.evaluate(template, body)?;
                let detail = short(&next.to_string());
                Ok(StepResult::Continue {
                    body: Some(next),
                    detail,
                })
            }
            CompiledStep::Filter { template } => match self.render(template, body)?.as_str() {
                "true" => Ok(StepResult::Continue {
                    body: None,
                    detail: "the condition holds".into(),
                }),
                _ => Ok(StepResult::Drop),
            },
            CompiledStep::Http {
                method,
                url,
                headers,
                timeout,
            } => send(http, *method, url, headers, *timeout, body).await,
        }
    }

    fn render(&self, template: &TemplateRef, body: &Value) -> Result<String, String> {
        let shared = self.templates.read();
        let compiled = shared
            .env
            .get_template(&template.name)
            .map_err(|err| err.to_string())?;
        compiled
            .render(context! { body => TemplateValue::from(minijinja::value::Serde(body)) })
            .map_err(|err| describe_template_error(&err).replace(&template.name, &template.path))
    }

    fn evaluate(&self, tree: &Tree, body: &Value) -> Result<Value, String> {
        Ok(match tree {
            Tree::Literal(value) => value.clone(),
            Tree::Text(template) => Value::String(self.render(template, body)?),
            Tree::Typed(template) => {
                let json = self.render(template, body)?;
                serde_json::from_str(&json).map_err(|err| format!("{}: {err}", template.path))?
            }
            Tree::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.evaluate(item, body))
                    .collect::<Result<_, _>>()?,
            ),
            Tree::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(key, value)| Ok((key.clone(), self.evaluate(value, body)?)))
                    .collect::<Result<_, String>>()?,
            ),
        })
    }
}

enum StepResult {
    Continue { body: Option<Value>, detail: String },
    Drop,
}

impl CompiledStep {
    fn kind(&self) -> &'static str {
        match self {
            CompiledStep::Log { .. } => StepKind::Log,
            CompiledStep::Transform { .. } => StepKind::Transform,
            CompiledStep::Filter { .. } => StepKind::Filter,
            CompiledStep::Http { .. } => StepKind::Http,
        }
        .as_str()
    }
}

fn compile_tree(builder: &mut Builder<'_>, path: &str, value: &Value) -> Result<Tree, BuildError> {
    Ok(match value {
        Value::String(text) if !text.contains("{{") && !text.contains("{%") => {
            Tree::Literal(value.clone())
        }
        Value::String(text) => match single_expression(text) {
            Some(expression) => {
                Tree::Typed(builder.add(path, format!("{{{{ ({expression}) | tojson }}}}"))?)
            }
            None => Tree::Text(builder.add(path, text.clone())?),
        },
        Value::Array(items) => Tree::Array(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| compile_tree(builder, &format!("{path}[{index}]"), item))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(fields) => Tree::Object(
            fields
                .iter()
                .map(|(key, item)| {
                    Ok((
                        key.clone(),
                        compile_tree(builder, &format!("{path}.{key}"), item)?,
                    ))
                })
                .collect::<Result<_, BuildError>>()?,
        ),
        Value::Null | Value::Bool(_) | Value::Number(_) => Tree::Literal(value.clone()),
    })
}

/// The expression of a leaf that is exactly one `{{ expr }}`.
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.trim();
    (!inner.contains("{{") && !inner.contains("}}") && !inner.is_empty()).then_some(inner)
}

async fn send(
    http: &HttpEgress,
    method: HttpMethod,
    target: &str,
    headers: &BTreeMap<String, String>,
    timeout: Duration,
    body: &Value,
) -> Result<StepResult, String> {
    let method =
        reqwest::Method::from_bytes(method.as_str().as_bytes()).map_err(|err| err.to_string())?;
    // What activity and answers say of the URL: never its credentials.
    let shown = super::egress::shown_url(target);
    let url = shown.as_str();
    let mut request = http.request(method.clone(), target)?.timeout(timeout);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    if method != reqwest::Method::GET {
        request = request.json(body);
    }
    let response = request.send().await.map_err(|err| {
        if err.is_timeout() {
            format!("{url} did not answer within {} s", timeout.as_secs())
        } else {
            format!(
                "cannot reach {url}: {}",
                crate::telemetry::error_chain(&err.without_url())
            )
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("json"));
    let bytes = http.read_answer(response, url).await?;
    let next = if is_json && !bytes.iter().all(u8::is_ascii_whitespace) {
        Some(
            serde_json::from_slice(&bytes)
                .map_err(|err| format!("{url} answered invalid JSON: {err}"))?,
        )
    } else {
        None
    };
    Ok(StepResult::Continue {
        detail: format!("{status} from {url}"),
        body: next,
    })
}

fn describe_template_error(err: &minijinja::Error) -> String {
    let mut text = err.to_string();
    if let Some(detail) = err.detail()
        && !text.contains(detail)
    {
        text.push_str(": ");
        text.push_str(detail);
    }
    text
}

/// A detail short enough for a list.
fn short(text: &str) -> String {
    const MAX: usize = 200;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(MAX).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Loopback open: these tests' targets (and non-targets) are local.
    fn test_egress() -> HttpEgress {
        let policy =
            crate::runtime::egress::EgressPolicy::from_lists(&["127.0.0.0/8".into()], &[]).unwrap();
        HttpEgress::new(std::sync::Arc::new(policy), 1024 * 1024)
    }

    fn flow(steps: Value) -> CompiledFlow {
        let definition = Definition::parse(&json!({
            "trigger": { "kind": "webhook", "path": "t" }, "steps": steps
        }))
        .unwrap();
        CompiledFlow::build(&definition, &Templates::default()).unwrap()
    }

    async fn run(flow: &CompiledFlow, body: Value) -> Run {
        flow.run(body, &test_egress()).await
    }

    #[tokio::test]
    async fn a_transform_leaf_that_is_one_expression_keeps_its_json_type() {
        let flow = flow(json!([{ "kind": "transform", "template": {
            "id": "{{ body.id }}", "total": "{{ body.qty * body.price }}",
            "label": "order {{ body.id }}", "fixed": 3, "nested": ["{{ body.qty > 1 }}"]
        }}]));

        let run = run(&flow, json!({ "id": 7, "qty": 2, "price": 1.5 })).await;

        assert_eq!(run.outcome, Outcome::Ok);
        assert_eq!(
            run.body,
            json!({ "id": 7, "total": 3.0, "label": "order 7", "fixed": 3, "nested": [true] })
        );
    }

    #[tokio::test]
    async fn a_filter_that_does_not_hold_drops_the_message() {
        let flow = flow(json!([
            { "kind": "filter", "condition": "body.qty > 0" },
            { "kind": "log", "message": "never" }
        ]));

        let kept = run(&flow, json!({ "qty": 1 })).await;
        let dropped = run(&flow, json!({ "qty": 0 })).await;

        assert_eq!(kept.outcome, Outcome::Ok);
        assert_eq!(dropped.outcome, Outcome::Filtered);
        assert_eq!(dropped.steps.len(), 1, "later steps do not run");
    }

    #[tokio::test]
    async fn a_log_step_renders_its_message_into_the_detail() {
        let flow = flow(json!([{ "kind": "log", "message": "order {{ body.id }} seen" }]));

        let run = run(&flow, json!({ "id": "A1" })).await;

        assert_eq!(run.steps[0].detail, "order A1 seen");
    }

    #[tokio::test]
    async fn a_step_that_fails_at_run_time_names_itself() {
        let flow = flow(
            json!([{ "kind": "transform", "template": { "x": "{{ body.items | length }}" } }]),
        );

        let run = run(&flow, json!({ "items": 5 })).await;

        assert_eq!(run.outcome, Outcome::Failed);
        assert_eq!(run.failed_step, Some(0));
        assert!(run.error.unwrap().starts_with("steps[0] (transform): "));
    }

    #[tokio::test]
    async fn an_http_step_to_nowhere_fails_with_the_reason() {
        let flow = flow(
            json!([{ "kind": "http", "method": "POST", "url": "http://127.0.0.1:9/none", "timeout_seconds": 2 }]),
        );

        let run = run(&flow, json!({})).await;

        assert_eq!(run.outcome, Outcome::Failed);
        assert!(
            run.steps[0]
                .detail
                .contains("cannot reach http://127.0.0.1:9/none"),
            "{}",
            run.steps[0].detail
        );
    }

    #[tokio::test]
    async fn identical_templates_are_compiled_once_and_leave_with_the_last_flow_using_them() {
        let templates = Templates::default();
        let logging = |message: &str| {
            Definition::parse(&json!({
                "trigger": { "kind": "webhook", "path": "t" },
                "steps": [{ "kind": "log", "message": message }]
            }))
            .unwrap()
        };
        let first = CompiledFlow::build(&logging("a {{ body.x }}"), &templates).unwrap();
        let second = CompiledFlow::build(&logging("a {{ body.x }}"), &templates).unwrap();
        let other = CompiledFlow::build(&logging("b {{ body.x }}"), &templates).unwrap();
        assert_eq!(templates.compiled(), 2);

        drop(first);

        assert_eq!(templates.compiled(), 2, "the second flow still uses it");
        let run = second.run(json!({ "x": 1 }), &test_egress()).await;
        assert_eq!(run.steps[0].detail, "a 1", "the other flow still runs");
        drop(second);
        assert_eq!(templates.compiled(), 1);
        drop(other);
        assert_eq!(templates.compiled(), 0);
    }

    #[tokio::test]
    async fn a_failing_shared_template_is_reported_at_the_place_in_each_definition() {
        let templates = Templates::default();
        let definition = Definition::parse(&json!({
            "trigger": { "kind": "webhook", "path": "t" },
            "steps": [{ "kind": "transform", "template": { "a": "{{ body.missing.deeper }}" } }]
        }))
        .unwrap();
        let flow = CompiledFlow::build(&definition, &templates).unwrap();

        let run = flow.run(json!({}), &test_egress()).await;

        let error = run.error.unwrap_or_default();
        assert!(error.contains("steps[0].template.a"), "{error}");
        assert!(!error.contains("template-"), "{error}");
    }

    #[test]
    fn a_template_with_a_syntax_error_fails_the_build_naming_its_place() {
        let definition = Definition::parse(&json!({
            "trigger": { "kind": "webhook", "path": "t" },
            "steps": [{ "kind": "log", "message": "fine" }, { "kind": "transform", "template": { "a": "{{ body. }}" } }]
        }))
        .unwrap();

        let templates = Templates::default();
        let Err(err) = CompiledFlow::build(&definition, &templates) else {
            panic!("should not compile")
        };

        assert_eq!(err.path, "steps[1].template.a");
        assert_eq!(
            templates.compiled(),
            0,
            "a failed build leaves nothing behind"
        );
    }

    #[test]
    fn a_condition_with_a_syntax_error_fails_the_build() {
        let definition = Definition::parse(&json!({
            "trigger": { "kind": "webhook", "path": "t" },
            "steps": [{ "kind": "filter", "condition": "body.qty >" }]
        }))
        .unwrap();

        let templates = Templates::default();
        let Err(err) = CompiledFlow::build(&definition, &templates) else {
            panic!("should not compile")
        };

        assert_eq!(err.path, "steps[0].condition");
    }
}
