//! The flow's fields in the form view: the trigger, each step's form (one per kind,
//! matched exhaustively), and the labelled field every input sits in.

use leptos::prelude::*;

use super::Editor;
use super::model::StepForm;
use crate::domain::connection::ConnectionKind;
use crate::domain::definition::{StepKind, TriggerKind};

#[component]
pub(super) fn FlowFields(editor: Editor, new_kind: RwSignal<StepKind>) -> impl IntoView {
    let touch = move || editor.dirty.set(true);
    view! {
        <fieldset class="trigger">
            <legend>"Trigger"</legend>
            <Field label="Starts on" id="trigger-kind" error=Signal::derive(|| None)>
                <select id="trigger-kind"
                    on:change=move |ev| {
                        if let Some(kind) = TriggerKind::parse(&event_target_value(&ev)) {
                            editor.trigger.set(kind);
                            touch();
                        }
                    }>
                    {TriggerKind::ALL.into_iter().map(|kind| view! {
                        <option value=kind.as_str() selected=move || editor.trigger.get() == kind>{kind.label()}</option>
                    }).collect_view()}
                </select>
            </Field>
            {move || match editor.trigger.get() {
                TriggerKind::Webhook => view! {
                    <Field label="Webhook path" id="trigger-path" error=Signal::derive(editor.error_at("trigger.path"))
                        hint="Called at POST /hooks/PATH; a-z, 0-9 and -">
                        <input id="trigger-path" type="text" prop:value=move || editor.path.get()
                            on:input=move |ev| { editor.path.set(event_target_value(&ev)); touch(); } />
                    </Field>
                    <WebhookSecret editor />
                }.into_any(),
                TriggerKind::Timer => view! {
                    <Field label="Every (seconds)" id="trigger-every" error=Signal::derive(editor.error_at("trigger.every_seconds"))>
                        <input id="trigger-every" type="text" inputmode="numeric" prop:value=move || editor.every.get()
                            on:input=move |ev| { editor.every.set(event_target_value(&ev)); touch(); } />
                    </Field>
                }.into_any(),
                TriggerKind::Cron => view! {
                    <div class="row">
                        <Field label="Schedule (cron)" id="trigger-schedule" error=Signal::derive(editor.error_at("trigger.schedule"))
                            hint="minute hour day month weekday, e.g. 0 9 * * 1-5; six fields start with seconds">
                            <input id="trigger-schedule" type="text" prop:value=move || editor.schedule.get()
                                on:input=move |ev| { editor.schedule.set(event_target_value(&ev)); touch(); } />
                        </Field>
                        <Field label="Time zone" id="trigger-time-zone" error=Signal::derive(editor.error_at("trigger.time_zone"))
                            hint="e.g. Europe/Berlin, America/New_York, UTC">
                            <input id="trigger-time-zone" type="text" prop:value=move || editor.time_zone.get()
                                on:input=move |ev| { editor.time_zone.set(event_target_value(&ev)); touch(); } />
                        </Field>
                    </div>
                    <NextRuns schedule=Signal::derive(move || editor.schedule.get()) time_zone=Signal::derive(move || editor.time_zone.get()) />
                }.into_any(),
                TriggerKind::SqlPoll => view! {
                    <TriggerConnection editor accepts=|kind| kind.sql_dialect().is_some() />
                    <Field label="Query" id="trigger-query" error=Signal::derive(editor.error_at("trigger.query"))
                        hint="$1 (? in MySQL and SQLite) is the cursor: SELECT * FROM orders WHERE id > $1 ORDER BY id">
                        <textarea id="trigger-query" class="code" rows="3" spellcheck="false" prop:value=move || editor.poll_query.get()
                            on:input=move |ev| { editor.poll_query.set(event_target_value(&ev)); touch(); }></textarea>
                    </Field>
                    <div class="row">
                        <Field label="Cursor column" id="trigger-cursor" error=Signal::derive(editor.error_at("trigger.cursor"))>
                            <input id="trigger-cursor" type="text" prop:value=move || editor.poll_cursor.get()
                                on:input=move |ev| { editor.poll_cursor.set(event_target_value(&ev)); touch(); } />
                        </Field>
                        <Field label="Start after (JSON)" id="trigger-start" error=Signal::derive(editor.error_at("trigger.start"))>
                            <input id="trigger-start" type="text" prop:value=move || editor.poll_start.get()
                                on:input=move |ev| { editor.poll_start.set(event_target_value(&ev)); touch(); } />
                        </Field>
                        <Field label="Every (seconds)" id="trigger-every" error=Signal::derive(editor.error_at("trigger.every_seconds"))>
                            <input id="trigger-every" type="text" inputmode="numeric" prop:value=move || editor.every.get()
                                on:input=move |ev| { editor.every.set(event_target_value(&ev)); touch(); } />
                        </Field>
                    </div>
                }.into_any(),
                TriggerKind::Nats => view! {
                    <TriggerConnection editor accepts=|kind| kind == ConnectionKind::Nats />
                    <Field label="Subject" id="trigger-subject" error=Signal::derive(editor.error_at("trigger.subject"))
                        hint="e.g. orders.> ; the flow gets {\"subject\": ..., \"payload\": ...}">
                        <input id="trigger-subject" type="text" prop:value=move || editor.subject.get()
                            on:input=move |ev| { editor.subject.set(event_target_value(&ev)); touch(); } />
                    </Field>
                    <div class="row">
                        <Field label="JetStream stream" id="trigger-stream" error=Signal::derive(editor.error_at("trigger.stream"))
                            hint="Empty: core NATS, on one server, nothing acknowledged">
                            <input id="trigger-stream" type="text" prop:value=move || editor.stream.get()
                                on:input=move |ev| { editor.stream.set(event_target_value(&ev)); touch(); } />
                        </Field>
                        <Field label="Durable consumer" id="trigger-durable" error=Signal::derive(editor.error_at("trigger.durable"))
                            hint="Shared by every server; acknowledged once recorded">
                            <input id="trigger-durable" type="text" prop:value=move || editor.durable.get()
                                on:input=move |ev| { editor.durable.set(event_target_value(&ev)); touch(); } />
                        </Field>
                    </div>
                    <div class="row">
                        <PrefetchField editor />
                        <RedeliveriesField editor hint="JetStream: how often a failed message is tried again" />
                    </div>
                }.into_any(),
                TriggerKind::Mqtt => view! {
                    <TriggerConnection editor accepts=|kind| kind == ConnectionKind::Mqtt />
                    <div class="row">
                        <Field label="Topic filter" id="trigger-topic" error=Signal::derive(editor.error_at("trigger.topic"))
                            hint="e.g. sensors/+/temperature or orders/#; the flow gets {\"topic\": ..., \"payload\": ...}">
                            <input id="trigger-topic" type="text" prop:value=move || editor.topic.get()
                                on:input=move |ev| { editor.topic.set(event_target_value(&ev)); touch(); } />
                        </Field>
                        <Field label="QoS" id="trigger-qos" error=Signal::derive(editor.error_at("trigger.qos"))
                            hint="1: kept by the broker while away, acknowledged once recorded; 0: at most once">
                            <select id="trigger-qos" prop:value=move || editor.qos.get()
                                on:change=move |ev| { editor.qos.set(event_target_value(&ev)); touch(); }>
                                <option value="1">"1 (at least once)"</option>
                                <option value="0">"0 (at most once)"</option>
                            </select>
                        </Field>
                    </div>
                }.into_any(),
                TriggerKind::Redis => view! {
                    <TriggerConnection editor accepts=|kind| kind == ConnectionKind::Redis />
                    <p class="hint">"A stream read by a consumer group (every server, acknowledged once recorded), or a pub/sub channel (one server, nothing kept)."</p>
                    <div class="row">
                        <Field label="Stream" id="trigger-stream" error=Signal::derive(editor.error_at("trigger.stream"))>
                            <input id="trigger-stream" type="text" prop:value=move || editor.stream.get()
                                on:input=move |ev| { editor.stream.set(event_target_value(&ev)); touch(); } />
                        </Field>
                        <Field label="Consumer group" id="trigger-group" error=Signal::derive(editor.error_at("trigger.group"))>
                            <input id="trigger-group" type="text" prop:value=move || editor.group.get()
                                on:input=move |ev| { editor.group.set(event_target_value(&ev)); touch(); } />
                        </Field>
                        <Field label="Or channel" id="trigger-channel" error=Signal::derive(editor.error_at("trigger.channel"))>
                            <input id="trigger-channel" type="text" prop:value=move || editor.channel.get()
                                on:input=move |ev| { editor.channel.set(event_target_value(&ev)); touch(); } />
                        </Field>
                    </div>
                    <div class="row">
                        <PrefetchField editor />
                        <RedeliveriesField editor hint="Stream: how often a failed entry is added again" />
                    </div>
                }.into_any(),
                TriggerKind::Amqp => view! {
                    <TriggerConnection editor accepts=|kind| kind == ConnectionKind::Amqp />
                    <div class="row">
                        <Field label="Queue" id="trigger-queue" error=Signal::derive(editor.error_at("trigger.queue"))>
                            <input id="trigger-queue" type="text" prop:value=move || editor.queue.get()
                                on:input=move |ev| { editor.queue.set(event_target_value(&ev)); touch(); } />
                        </Field>
                        <div class="field checkbox">
                            <input id="trigger-declare" type="checkbox" prop:checked=move || editor.declare.get()
                                on:change=move |ev| { editor.declare.set(event_target_checked(&ev)); touch(); } />
                            <label for="trigger-declare">"Declare the queue (durable) if it is not there"</label>
                        </div>
                    </div>
                    <div class="row">
                        <PrefetchField editor />
                        <Field label="Dead-letter exchange" id="trigger-dlx" error=Signal::derive(editor.error_at("trigger.dead_letter_exchange"))
                            hint="Where failed messages go; empty: back to the queue">
                            <input id="trigger-dlx" type="text" prop:value=move || editor.dead_letter_exchange.get()
                                on:input=move |ev| { editor.dead_letter_exchange.set(event_target_value(&ev)); touch(); } />
                        </Field>
                        <RedeliveriesField editor hint="How often a failed message is tried again" />
                    </div>
                }.into_any(),
            }}
        </fieldset>
        <p class="field-error">{editor.error_at("steps")}</p>
        <ol class="step-list">
            <For each=move || editor.steps.get() key=|step| (step.key, step.kind) let:step>
                <StepFields editor key=step.key kind=step.kind />
            </For>
        </ol>
        <div class="add-step">
            <label for="new-step-kind">"New step"</label>
            <select id="new-step-kind" on:change=move |ev| {
                if let Some(kind) = StepKind::parse(&event_target_value(&ev)) {
                    new_kind.set(kind);
                }
            }>
                {StepKind::ALL.into_iter().map(|kind| view! { <option value=kind.as_str()>{kind.label()}</option> }).collect_view()}
            </select>
            <button type="button" on:click=move |_| {
                let step = editor.blank_step(new_kind.get_untracked());
                editor.steps.update(|steps| steps.push(step));
                touch();
            }>"Add step"</button>
        </div>
    }
}

/// The connection a trigger reads through, from those of the kinds it `accepts`.
#[component]
fn TriggerConnection(editor: Editor, accepts: fn(ConnectionKind) -> bool) -> impl IntoView {
    view! {
        <Field label="Connection" id="trigger-connection" error=Signal::derive(editor.error_at("trigger.connection"))>
            <ConnectionPicker id="trigger-connection".to_owned() accepts
                value=Signal::derive(move || editor.poll_connection.get())
                on_pick=Callback::new(move |name| { editor.poll_connection.set(name); editor.dirty.set(true); }) />
        </Field>
    }
}

/// How many messages a broker's trigger takes at once.
#[component]
fn PrefetchField(editor: Editor) -> impl IntoView {
    view! {
        <Field label="Prefetch" id="trigger-prefetch" error=Signal::derive(editor.error_at("trigger.prefetch"))
            hint="Messages in flight at most; acknowledged once their run is recorded">
            <input id="trigger-prefetch" type="text" inputmode="numeric" prop:value=move || editor.prefetch.get()
                on:input=move |ev| { editor.prefetch.set(event_target_value(&ev)); editor.dirty.set(true); } />
        </Field>
    }
}

/// How often a broker's trigger tries a failed message again.
#[component]
fn RedeliveriesField(editor: Editor, hint: &'static str) -> impl IntoView {
    view! {
        <Field label="Redeliveries" id="trigger-redeliveries" error=Signal::derive(editor.error_at("trigger.max_redeliveries"))
            hint=hint>
            <input id="trigger-redeliveries" type="text" inputmode="numeric" prop:value=move || editor.max_redeliveries.get()
                on:input=move |ev| { editor.max_redeliveries.set(event_target_value(&ev)); editor.dirty.set(true); } />
        </Field>
    }
}

/// What a webhook caller must show: nothing, the secret as a bearer token, or an
/// HMAC-SHA256 signature of the body in a header. The secret shows as the mask once
/// stored; leaving the mask keeps it.
#[component]
fn WebhookSecret(editor: Editor) -> impl IntoView {
    let touch = move || editor.dirty.set(true);
    const SCHEMES: [(&str, &str); 3] = [
        ("", "Anyone who knows the path"),
        ("bearer", "A secret, as Authorization: Bearer"),
        ("hmac_sha256", "An HMAC-SHA256 signature of the body"),
    ];
    view! {
        <Field label="Callers must send" id="trigger-auth" error=Signal::derive(editor.error_at("trigger.auth.scheme"))>
            <select id="trigger-auth" on:change=move |ev| { editor.auth_scheme.set(event_target_value(&ev)); touch(); }>
                {SCHEMES.into_iter().map(|(value, label)| view! {
                    <option value=value selected=move || editor.auth_scheme.get() == value>{label}</option>
                }).collect_view()}
            </select>
        </Field>
        <Show when=move || editor.auth_scheme.get() == "hmac_sha256">
            <Field label="Signature header" id="trigger-auth-header" error=Signal::derive(editor.error_at("trigger.auth.header"))
                hint="Holds sha256=<hex>, as GitHub sends it">
                <input id="trigger-auth-header" type="text" prop:value=move || editor.auth_header.get()
                    on:input=move |ev| { editor.auth_header.set(event_target_value(&ev)); touch(); } />
            </Field>
        </Show>
        <Show when=move || !editor.auth_scheme.get().is_empty()>
            <Field label="Webhook secret" id="trigger-auth-secret" error=Signal::derive(editor.error_at("trigger.auth.secret"))
                hint="16 to 512 characters; never shown again once saved">
                <input id="trigger-auth-secret" type="password" autocomplete="off" prop:value=move || editor.auth_secret.get()
                    on:input=move |ev| { editor.auth_secret.set(event_target_value(&ev)); touch(); } />
            </Field>
        </Show>
    }
}

#[component]
fn StepFields(editor: Editor, key: u64, kind: StepKind) -> impl IntoView {
    let position = move || {
        editor
            .steps
            .with(|steps| steps.iter().position(|s| s.key == key).unwrap_or(0))
    };
    let count = move || editor.steps.with(Vec::len);
    let read = move |f: fn(&StepForm) -> String| {
        move || {
            editor.steps.with(|steps| {
                steps
                    .iter()
                    .find(|s| s.key == key)
                    .map(f)
                    .unwrap_or_default()
            })
        }
    };
    let write = move |f: fn(&mut StepForm, String)| {
        move |ev: leptos::ev::Event| {
            let value = event_target_value(&ev);
            editor.steps.update(|steps| {
                if let Some(step) = steps.iter_mut().find(|s| s.key == key) {
                    f(step, value);
                }
            });
            editor.dirty.set(true);
        }
    };
    let move_by = move |delta: isize| {
        editor.steps.update(|steps| {
            let from = steps.iter().position(|s| s.key == key).unwrap_or(0);
            let to = from as isize + delta;
            if to >= 0 && (to as usize) < steps.len() {
                steps.swap(from, to as usize);
            }
        });
        editor.dirty.set(true);
    };
    let remove = move |_| {
        editor.steps.update(|steps| steps.retain(|s| s.key != key));
        editor.dirty.set(true);
    };
    let number = move || position() + 1;
    let legend = move || format!("Step {} · {}", number(), kind.label());
    let field_id = move |name: &str| format!("step-{key}-{name}");
    let error = move |name: &'static str| {
        Signal::derive(move || {
            let path = format!("steps[{}].{name}", position());
            (editor.error_at_owned(path))()
        })
    };
    // What a connection picker chose goes into the step's `connection`.
    let pick = move |name: String| {
        editor.steps.update(|steps| {
            if let Some(step) = steps.iter_mut().find(|s| s.key == key) {
                step.connection = name;
            }
        });
        editor.dirty.set(true);
    };
    let fields = match kind {
        StepKind::Log => view! {
            <Field label="Message" id=field_id("message") error=error("message") hint="A template: order {{ body.id }} arrived">
                <input id=field_id("message") type="text" prop:value=read(|s| s.message.clone()) on:input=write(|s, v| s.message = v) />
            </Field>
        }.into_any(),
        StepKind::Transform => view! {
            <Field label="Template (JSON)" id=field_id("template") error=error("template") hint="Each string is a template; exactly {{ expr }} keeps its type">
                <textarea id=field_id("template") class="code" rows="5" spellcheck="false" prop:value=read(|s| s.template.clone()) on:input=write(|s, v| s.template = v)></textarea>
            </Field>
        }.into_any(),
        StepKind::Filter => view! {
            <Field label="Condition" id=field_id("condition") error=error("condition") hint="Keeps the message when it holds, e.g. body.qty > 0">
                <input id=field_id("condition") type="text" prop:value=read(|s| s.condition.clone()) on:input=write(|s, v| s.condition = v) />
            </Field>
        }.into_any(),
        StepKind::Http => view! {
            <div class="row">
                <Field label="Method" id=field_id("method") error=error("method")>
                    <select id=field_id("method") prop:value=read(|s| s.method.clone()) on:change=write(|s, v| s.method = v)>
                        {["POST", "PUT", "PATCH", "GET", "DELETE"].into_iter().map(|m| view! { <option value=m>{m}</option> }).collect_view()}
                    </select>
                </Field>
                <Field label="URL" id=field_id("url") error=error("url") hint="Through a connection: a path under its base URL, e.g. /orders">
                    <input id=field_id("url") type="text" prop:value=read(|s| s.url.clone()) on:input=write(|s, v| s.url = v) />
                </Field>
            </div>
            <Field label="Through connection" id=field_id("connection") error=error("connection")>
                <ConnectionPicker id=field_id("connection") value=Signal::derive(read(|s| s.connection.clone()))
                    on_pick=Callback::new(pick)
                    accepts=|kind| kind == ConnectionKind::Http optional=true />
            </Field>
            <div class="row">
                <Field label="Headers (JSON object)" id=field_id("headers") error=error("headers") hint="Values are secrets: shown back as ********">
                    <textarea id=field_id("headers") class="code" rows="2" spellcheck="false" prop:value=read(|s| s.headers.clone()) on:input=write(|s, v| s.headers = v)></textarea>
                </Field>
                <Field label="Timeout (seconds)" id=field_id("timeout") error=error("timeout_seconds")>
                    <input id=field_id("timeout") type="text" inputmode="numeric" placeholder="10" prop:value=read(|s| s.timeout.clone()) on:input=write(|s, v| s.timeout = v) />
                </Field>
            </div>
        }.into_any(),
        StepKind::NatsPublish => view! {
            <Field label="Connection" id=field_id("connection") error=error("connection")>
                <ConnectionPicker id=field_id("connection") value=Signal::derive(read(|s| s.connection.clone())) on_pick=Callback::new(pick) accepts=|kind| kind == ConnectionKind::Nats />
            </Field>
            <div class="row">
                <Field label="Subject" id=field_id("subject") error=error("subject") hint="A template: orders.{{ body.id }}; the body goes as JSON">
                    <input id=field_id("subject") type="text" prop:value=read(|s| s.subject.clone()) on:input=write(|s, v| s.subject = v) />
                </Field>
                <div class="field checkbox">
                    <input id=field_id("jetstream") type="checkbox"
                        prop:checked=move || editor.steps.with(|steps| steps.iter().find(|s| s.key == key).is_some_and(|s| s.jetstream))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            editor.steps.update(|steps| {
                                if let Some(step) = steps.iter_mut().find(|s| s.key == key) {
                                    step.jetstream = on;
                                }
                            });
                            editor.dirty.set(true);
                        } />
                    <label for=field_id("jetstream")>"Wait for JetStream's acknowledgement"</label>
                </div>
            </div>
        }.into_any(),
        StepKind::MqttPublish => view! {
            <Field label="Connection" id=field_id("connection") error=error("connection")>
                <ConnectionPicker id=field_id("connection") value=Signal::derive(read(|s| s.connection.clone())) on_pick=Callback::new(pick) accepts=|kind| kind == ConnectionKind::Mqtt />
            </Field>
            <div class="row">
                <Field label="Topic" id=field_id("topic") error=error("topic") hint="A template: orders/{{ body.id }}; the body goes as JSON">
                    <input id=field_id("topic") type="text" prop:value=read(|s| s.topic.clone()) on:input=write(|s, v| s.topic = v) />
                </Field>
                <Field label="QoS" id=field_id("qos") error=error("qos") hint="1 waits for the broker's acknowledgement">
                    <select id=field_id("qos") prop:value=read(|s| s.qos.clone()) on:change=write(|s, v| s.qos = v)>
                        <option value="1">"1"</option>
                        <option value="0">"0"</option>
                    </select>
                </Field>
                <div class="field checkbox">
                    <input id=field_id("retain") type="checkbox"
                        prop:checked=move || editor.steps.with(|steps| steps.iter().find(|s| s.key == key).is_some_and(|s| s.retain))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            editor.steps.update(|steps| {
                                if let Some(step) = steps.iter_mut().find(|s| s.key == key) {
                                    step.retain = on;
                                }
                            });
                            editor.dirty.set(true);
                        } />
                    <label for=field_id("retain")>"Retain (the broker keeps the last message for new subscribers)"</label>
                </div>
            </div>
        }.into_any(),
        StepKind::AmqpPublish => view! {
            <Field label="Connection" id=field_id("connection") error=error("connection")>
                <ConnectionPicker id=field_id("connection") value=Signal::derive(read(|s| s.connection.clone())) on_pick=Callback::new(pick) accepts=|kind| kind == ConnectionKind::Amqp />
            </Field>
            <div class="row">
                <Field label="Exchange" id=field_id("exchange") error=error("exchange") hint="Empty: the default exchange, which routes to the queue the key names">
                    <input id=field_id("exchange") type="text" prop:value=read(|s| s.exchange.clone()) on:input=write(|s, v| s.exchange = v) />
                </Field>
                <Field label="Routing key" id=field_id("routing_key") error=error("routing_key") hint="A template: orders.{{ body.region }}; the body goes as JSON">
                    <input id=field_id("routing_key") type="text" prop:value=read(|s| s.routing_key.clone()) on:input=write(|s, v| s.routing_key = v) />
                </Field>
            </div>
        }.into_any(),
        StepKind::Redis => {
            view! {
                <Field label="Connection" id=field_id("connection") error=error("connection")>
                    <ConnectionPicker id=field_id("connection") value=Signal::derive(read(|s| s.connection.clone())) on_pick=Callback::new(pick) accepts=|kind| kind == ConnectionKind::Redis />
                </Field>
                <div class="row">
                    <Field label="Command" id=field_id("command") error=error("command")>
                        <select id=field_id("command") prop:value=read(|s| s.command.clone()) on:change=write(|s, v| s.command = v)>
                            {crate::domain::definition::RedisCommand::ALL.into_iter().map(|c| view! { <option value=c.as_str()>{c.as_str()}</option> }).collect_view()}
                        </select>
                    </Field>
                    <Field label="Arguments (JSON list)" id=field_id("args") error=error("args") hint="Templates: [\"order:{{ body.id }}\", \"{{ body }}\"]">
                        <textarea id=field_id("args") class="code" rows="2" spellcheck="false" prop:value=read(|s| s.args.clone()) on:input=write(|s, v| s.args = v)></textarea>
                    </Field>
                    <Field label="Expires after (seconds, SET)" id=field_id("expire") error=error("expire_seconds")>
                        <input id=field_id("expire") type="text" inputmode="numeric" prop:value=read(|s| s.expire.clone()) on:input=write(|s, v| s.expire = v) />
                    </Field>
                </div>
            }.into_any()
        }
        StepKind::Sql => {
            view! {
                <Field label="Connection" id=field_id("connection") error=error("connection")>
                    <ConnectionPicker id=field_id("connection") value=Signal::derive(read(|s| s.connection.clone())) on_pick=Callback::new(pick) accepts=|kind| kind.sql_dialect().is_some() />
                </Field>
                <Field label="Statement" id=field_id("query") error=error("query") hint="Parameters are $1, $2 (PostgreSQL) or ? (MySQL, SQLite), never pasted into the text">
                    <textarea id=field_id("query") class="code" rows="3" spellcheck="false" prop:value=read(|s| s.query.clone()) on:input=write(|s, v| s.query = v)></textarea>
                </Field>
                <div class="row">
                    <Field label="Parameters (JSON list)" id=field_id("params") error=error("params") hint="Templates: [\"{{ body.id }}\", \"{{ body.total }}\"] keep their JSON types">
                        <textarea id=field_id("params") class="code" rows="2" spellcheck="false" prop:value=read(|s| s.params.clone()) on:input=write(|s, v| s.params = v)></textarea>
                    </Field>
                    <Field label="Timeout (seconds)" id=field_id("timeout") error=error("timeout_seconds")>
                        <input id=field_id("timeout") type="text" inputmode="numeric" placeholder="30" prop:value=read(|s| s.timeout.clone()) on:input=write(|s, v| s.timeout = v) />
                    </Field>
                    <Field label="Row cap" id=field_id("max_rows") error=error("max_rows")>
                        <input id=field_id("max_rows") type="text" inputmode="numeric" placeholder="1000" prop:value=read(|s| s.max_rows.clone()) on:input=write(|s, v| s.max_rows = v) />
                    </Field>
                </div>
            }.into_any()
        }
    };
    view! {
        <li>
            <fieldset class="step" aria-label=legend>
                <legend>{legend}</legend>
                <div class="step-buttons">
                    <button type="button" aria-label=move || format!("Move step {} up", number()) disabled=move || position() == 0 on:click=move |_| move_by(-1)>"↑"</button>
                    <button type="button" aria-label=move || format!("Move step {} down", number()) disabled={move || position() + 1 >= count()} on:click=move |_| move_by(1)>"↓"</button>
                    <button type="button" class="danger" aria-label=move || format!("Remove step {}", number()) on:click=remove>"Remove"</button>
                </div>
                {fields}
                <p class="field-error">{move || error("kind").get()}</p>
            </fieldset>
        </li>
    }
}

/// The next five times a schedule runs, as the server reads it (the browser has no
/// time zone database): updated as the schedule is typed.
#[component]
pub(crate) fn NextRuns(schedule: Signal<String>, time_zone: Signal<String>) -> impl IntoView {
    let runs = Resource::new(
        move || (schedule.get(), time_zone.get()),
        |(schedule, time_zone)| crate::api::integrations::next_runs(schedule, time_zone),
    );
    view! {
        <div class="next-runs" data-testid="next-runs">
            <p class="hint">"Next runs"</p>
            <Transition fallback=|| ()>
                {move || runs.get().map(|runs| match runs {
                    Ok(runs) => view! {
                        <ol>{runs.into_iter().map(|run| view! { <li>{run}</li> }).collect_view()}</ol>
                    }.into_any(),
                    Err(err) => view! { <p class="field-error">{err.to_string()}</p> }.into_any(),
                })}
            </Transition>
        </div>
    }
}

/// Picks one of the connections there are, by name (the connections page makes
/// them): SQL databases, or HTTP services with `http`. A name the list does not hold
/// (deleted, or typed in the JSON view) stays selected, marked as missing.
#[component]
fn ConnectionPicker(
    id: String,
    value: Signal<String>,
    on_pick: Callback<String>,
    /// The kinds the step can use.
    accepts: fn(ConnectionKind) -> bool,
    /// Whether none is a choice (an http step's URL may be complete).
    #[prop(optional)]
    optional: bool,
) -> impl IntoView {
    let connections = Resource::new(|| (), |_| crate::api::connections::list_connections());
    let options = move || {
        let known: Vec<(String, String)> = connections
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| accepts(c.kind))
            .map(|c| (c.name.clone(), format!("{} ({})", c.name, c.kind.label())))
            .collect();
        let current = value.get();
        let none = match optional {
            true => "None: the URL is complete",
            false => "Choose a connection",
        };
        let mut options = vec![(String::new(), none.to_owned())];
        if !current.is_empty() && !known.iter().any(|(name, _)| *name == current) {
            options.push((current.clone(), format!("{current} (missing)")));
        }
        options.extend(known);
        options
            .into_iter()
            .map(|(name, label)| {
                let selected = name == current;
                view! { <option value=name selected=selected>{label}</option> }
            })
            .collect_view()
    };
    view! {
        <select id=id on:change=move |ev| on_pick.run(event_target_value(&ev))>
            <Transition fallback=move || view! { <option value="">"Loading connections…"</option> }>
                {options}
            </Transition>
        </select>
    }
}

/// A label, a control, an optional hint, and the control's error right under it.
#[component]
pub(super) fn Field(
    label: &'static str,
    #[prop(into)] id: String,
    error: Signal<Option<String>>,
    #[prop(optional)] hint: Option<&'static str>,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="field" class:has-error=move || error.with(Option::is_some)>
            <label for=id.clone()>{label}</label>
            {children()}
            {hint.map(|hint| view! { <p class="hint">{hint}</p> })}
            <p class="field-error" aria-live="polite">{move || error.get()}</p>
        </div>
    }
}
