//! Creating and listing integrations through the server, as the browser does.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)]

mod common;

#[allow(unused_imports)]
use common::TestApp;

on_both_databases! {
    a_created_integration_is_listed_with_its_description: TestApp,
    the_list_shows_the_newest_integration_first: TestApp,
    a_name_taken_in_another_case_is_refused_and_creates_nothing: TestApp,
    a_blank_name_and_an_overlong_description_are_both_reported: TestApp,
    a_request_missing_an_argument_is_malformed_not_a_server_error: TestApp,
    the_integrations_page_is_rendered_on_the_server: TestApp,
    a_form_posted_without_javascript_goes_back_to_the_list: TestApp,
    a_refused_form_without_javascript_comes_back_with_the_error_and_the_input: TestApp,
    an_unknown_page_answers_404: TestApp,
    every_response_carries_a_request_id: TestApp,
}

async fn a_created_integration_is_listed_with_its_description(app: TestApp) {
    let (status, created) = app
        .call(
            "create_integration",
            &[("name", "  Order sync "), ("description", "Shop to ERP")],
        )
        .await;

    assert_eq!(status, 200, "{created}");
    assert_eq!(created["name"], "Order sync", "the name is trimmed");
    let (_, list) = app.call("list_integrations", &[]).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "Order sync");
    assert_eq!(list[0]["description"], "Shop to ERP");
    assert_eq!(list[0]["id"], created["id"]);
}

async fn the_list_shows_the_newest_integration_first(app: TestApp) {
    for name in ["first", "second", "third"] {
        app.call("create_integration", &[("name", name), ("description", "")])
            .await;
    }

    let (_, list) = app.call("list_integrations", &[]).await;

    let names: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["third", "second", "first"]);
}

async fn a_name_taken_in_another_case_is_refused_and_creates_nothing(app: TestApp) {
    app.call(
        "create_integration",
        &[("name", "Orders"), ("description", "")],
    )
    .await;

    let (status, error) = app
        .call(
            "create_integration",
            &[("name", "ORDERS"), ("description", "again")],
        )
        .await;

    assert_eq!(status, 422);
    assert_eq!(error["code"], "validation_failed");
    assert_eq!(error["fields"][0]["path"], "name");
    assert_eq!(
        error["fields"][0]["message"],
        "an integration named “ORDERS” already exists"
    );
    let (_, list) = app.call("list_integrations", &[]).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

async fn a_blank_name_and_an_overlong_description_are_both_reported(app: TestApp) {
    let long = "d".repeat(2001);

    let (status, error) = app
        .call(
            "create_integration",
            &[("name", "   "), ("description", &long)],
        )
        .await;

    assert_eq!(status, 422);
    let paths: Vec<_> = error["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["name", "description"]);
    let (_, list) = app.call("list_integrations", &[]).await;
    assert!(list.as_array().unwrap().is_empty());
}

async fn a_request_missing_an_argument_is_malformed_not_a_server_error(app: TestApp) {
    let (status, error) = app
        .call("create_integration", &[("description", "no name")])
        .await;

    assert_eq!(status, 400, "{error}");
    assert_eq!(error["code"], "malformed_request");
}

async fn the_integrations_page_is_rendered_on_the_server(app: TestApp) {
    app.call(
        "create_integration",
        &[("name", "Invoices <b>"), ("description", "nightly")],
    )
    .await;

    let (status, html) = app.get_page("/").await;

    assert_eq!(status, 200);
    assert!(
        html.contains("Invoices &lt;b&gt;"),
        "the name is escaped and listed: {html}"
    );
    assert!(
        !html.contains("Loading integrations"),
        "complete HTML, not a fallback waiting for a script"
    );
    assert!(html.contains("nightly"));
    assert!(html.contains("New integration"));
}

async fn a_form_posted_without_javascript_goes_back_to_the_list(app: TestApp) {
    let response = app
        .post_plain_form(
            "create_integration",
            "/",
            &[("name", "No JS"), ("description", "")],
        )
        .await;

    assert_eq!(response.status().as_u16(), 302);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&app.url("/")),
        "back to the page it came from: {location}"
    );
    let (_, html) = app.get_page("/").await;
    assert!(html.contains("No JS"));
}

async fn a_refused_form_without_javascript_comes_back_with_the_error_and_the_input(app: TestApp) {
    app.call(
        "create_integration",
        &[("name", "Taken"), ("description", "")],
    )
    .await;

    let response = app
        .post_plain_form(
            "create_integration",
            "/",
            &[("name", "taken"), ("description", "keep me")],
        )
        .await;

    assert_eq!(response.status().as_u16(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/?name=taken&description=keep%20me&error="),
        "{location}"
    );
    let (_, html) = app.get_page(&location).await;
    assert!(
        html.contains("an integration named “taken” already exists"),
        "{html}"
    );
    assert!(html.contains("keep me"), "what was typed is kept");
}

async fn an_unknown_page_answers_404(app: TestApp) {
    let (status, html) = app.get_page("/no/such/page").await;

    assert_eq!(status, 404);
    assert!(html.contains("This page does not exist"));
}

async fn every_response_carries_a_request_id(app: TestApp) {
    let response = app.client.get(app.url("/")).send().await.unwrap();

    assert!(response.headers().contains_key("x-request-id"));
}
