import { expect, test } from "@playwright/test";
import { addStep, design, integrationId, openHydrated, publish, uniqueName, uniquePath } from "./support";

test("a person designs an integration, publishes it with a note, and it runs", async ({ page, request }, info) => {
  const name = uniqueName("Orders", info);
  const path = uniquePath("orders", info);

  await design(page, name, path, [
    { kind: "transform", template: '{"order": "{{ body.id }}", "seen": true}' },
    { kind: "log", message: "order {{ body.order }} seen" },
  ]);
  await publish(page, "first cut");

  await expect(page.getByTestId("active-version")).toHaveText("v1");
  await expect(page.getByTestId("current-state")).toHaveText("Active");
  await expect(page.getByTestId("reconcile")).toHaveText("Ok");
  const answer = await request.post(`/hooks/${path}`, { data: { id: 42 } });
  expect(answer.status()).toBe(200);
  expect(await answer.json()).toEqual({ order: 42, seen: true });
  await openHydrated(page, `/integrations/${integrationId(page)}`);
  await expect(page.getByTestId("webhook-url")).toContainText(`/hooks/${path}`);
  await expect(page.getByTestId("activity-row").first()).toContainText("order 42 seen");
});

test("a new draft leaves v1 running until published, and history switches back to v1", async ({ page, request }, info) => {
  const path = uniquePath("switch", info);
  await design(page, uniqueName("Switch", info), path, [{ kind: "transform", template: '{"version": 1}' }]);
  await publish(page);
  await expect(page.getByTestId("current-state")).toHaveText("Active");
  const id = integrationId(page);

  await openHydrated(page, `/integrations/${id}/edit`);
  await page.getByRole("group", { name: "Step 1 · Transform" }).getByLabel("Template (JSON)").fill('{"version": 2}');
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status")).toContainText("Saved as draft v2");
  await expect(page.getByTestId("active-version")).toHaveText("v1");
  await publish(page, "second");
  await expect(page.getByTestId("active-version")).toHaveText("v2");
  await expect(page.getByTestId("reconcile")).toHaveText("Ok");
  expect(await (await request.post(`/hooks/${path}`, { data: {} })).json()).toEqual({ version: 2 });

  await openHydrated(page, `/integrations/${id}/history`);
  const v1 = page.locator('[data-testid="version-row"][data-version="1"]');
  await v1.getByRole("button", { name: "Activate" }).click();
  await expect(page.getByRole("dialog")).toContainText('"version": 2');
  await page.getByRole("dialog").getByRole("button", { name: "Confirm activate" }).click();

  await expect(page.getByTestId("active-version")).toHaveText("v1");
  await expect(page.getByTestId("reconcile")).toHaveText("Ok");
  expect(await (await request.post(`/hooks/${path}`, { data: {} })).json()).toEqual({ version: 1 });
  const log = page.getByRole("table", { name: "Transition log" });
  await expect(log).toContainText("target_version 2 → 1");
  await expect(log).toContainText("current_version 2 → 1");
  await expect(log).toContainText("target_version 1 → 2");
  await expect(log).toContainText("current_state draft → active");
  await expect(log).toContainText("target_state — → draft");
});

test("stop, start, stop and unpublish; a new integration from an old version starts as a draft", async ({ page }, info) => {
  await design(page, uniqueName("Lifecycle", info), uniquePath("life", info), [{ kind: "log", message: "hi" }]);
  await publish(page);
  const id = integrationId(page);
  await openHydrated(page, `/integrations/${id}`);
  const state = page.getByTestId("current-state");
  await expect(state).toHaveText("Active");

  await page.getByRole("button", { name: "Stop" }).click();
  await expect(state).toHaveText("Inactive");
  await page.getByRole("button", { name: "Start" }).click();
  await expect(state).toHaveText("Active");
  await page.getByRole("button", { name: "Stop" }).click();
  await expect(state).toHaveText("Inactive");
  await page.getByRole("button", { name: "Unpublish" }).click();
  await expect(state).toHaveText("Deleted");
  await expect(page.getByRole("button", { name: "Start" })).toHaveCount(0);

  await openHydrated(page, `/integrations/${id}/history`);
  await page
    .locator('[data-testid="version-row"][data-version="1"]')
    .getByRole("button", { name: "New integration from this version" })
    .click();
  await expect(page).not.toHaveURL(new RegExp(id));
  await expect(page.getByTestId("current-state")).toHaveText("Draft");
  await expect(page.getByTestId("active-version")).toHaveText("none");
  await expect(page.getByTestId("draft-version")).toHaveText("v1");
});

test("a deploy that fails shows the error and retries; fixing the draft makes it Active", async ({ page, browser }, info) => {
  const taken = uniquePath("taken", info);
  await design(page, uniqueName("Holder", info), taken, [{ kind: "log", message: "first" }]);
  await publish(page);
  await expect(page.getByTestId("current-state")).toHaveText("Active");

  const other = await browser.newPage();
  await design(other, uniqueName("Clash", info), taken, [{ kind: "log", message: "second" }]);
  await publish(other);
  const id = integrationId(other);
  await openHydrated(other, `/integrations/${id}`);

  await expect(other.getByTestId("current-state")).toHaveText("Error");
  const failure = other.getByTestId("failure");
  await expect(failure).toContainText(`the webhook path /hooks/${taken} is already used by integration`);
  await expect(failure.getByTestId("attempts")).not.toHaveText("0");
  await expect(failure).toContainText("Next retry");

  await openHydrated(other, `/integrations/${id}/edit`);
  await other.getByLabel("Webhook path").fill(uniquePath("fixed", info));
  await other.getByRole("button", { name: "Save" }).click();
  await expect(other.getByRole("status")).toContainText("Saved as draft v2");
  await publish(other);
  await expect(other.getByTestId("current-state")).toHaveText("Active");
  await expect(other.getByTestId("active-version")).toHaveText("v2");
});

test("two people editing one draft: the second save shows the conflict and keeps the text", async ({ page, browser }, info) => {
  await design(page, uniqueName("Shared", info), uniquePath("shared", info), [{ kind: "log", message: "start" }]);
  const editUrl = page.url();
  const second = await (await browser.newContext()).newPage();
  await openHydrated(second, editUrl);

  await page.getByLabel("Description").fill("first person's change");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status")).toContainText("Saved");
  const mine = "second person's careful change that must not be lost";
  await second.getByRole("group", { name: "Step 1 · Log" }).getByLabel("Message").fill(mine);
  await second.getByRole("button", { name: "Save" }).click();

  await expect(second.getByRole("alert").filter({ hasText: "Someone else changed this integration" })).toBeVisible();
  await expect(second.getByRole("group", { name: "Step 1 · Log" }).getByLabel("Message")).toHaveValue(mine);
  await openHydrated(page, editUrl);
  await expect(page.getByLabel("Description")).toHaveValue("first person's change");
  await expect(page.getByRole("group", { name: "Step 1 · Log" }).getByLabel("Message")).toHaveValue("start");
});

test("invalid input shows messages at the fields and saves nothing", async ({ page }, info) => {
  await design(page, uniqueName("Strict", info), uniquePath("strict", info), [{ kind: "log", message: "kept" }]);
  const editUrl = page.url();

  await page.getByLabel("Webhook path").fill("Not A Path");
  await addStep(page, 2, { kind: "http", url: "ftp://nope" });
  await addStep(page, 3, { kind: "transform", template: "{ not json" });
  await page.getByRole("button", { name: "Save" }).click();

  await expect(page.locator("#trigger-path").locator("xpath=..")).toContainText("must be 1 to 64 characters from a-z, 0-9 and -");
  await expect(page.getByRole("group", { name: "Step 2 · HTTP request" })).toContainText("not an http(s) URL");
  await expect(page.getByRole("group", { name: "Step 3 · Transform" })).toContainText("not valid JSON");
  await openHydrated(page, editUrl);
  await expect(page.getByRole("group", { name: /^Step \d/ })).toHaveCount(1);
  await expect(page.getByLabel("Webhook path")).not.toHaveValue("Not A Path");
});

test("the raw JSON view round-trips with the form", async ({ page }, info) => {
  await design(page, uniqueName("Raw", info), uniquePath("raw", info), [{ kind: "filter", condition: "body.ok" }]);

  await page.getByRole("button", { name: "JSON" }).click();
  const raw = page.getByLabel("Definition (JSON)");
  await expect(raw).toHaveValue(/"condition": "body.ok"/);
  await raw.fill((await raw.inputValue()).replace("body.ok", "body.qty > 1"));
  await page.getByRole("button", { name: "Form" }).click();

  await expect(page.getByRole("group", { name: "Step 1 · Filter" }).getByLabel("Condition")).toHaveValue("body.qty > 1");
});

test("steps can be reordered and removed with buttons", async ({ page }, info) => {
  await design(page, uniqueName("Order", info), uniquePath("order", info), [
    { kind: "log", message: "one" },
    { kind: "filter", condition: "body.two" },
  ]);

  await page.getByRole("button", { name: "Move step 2 up" }).click();
  await expect(page.getByRole("group", { name: "Step 1 · Filter" })).toBeVisible();
  await page.getByRole("button", { name: "Remove step 2" }).click();

  await expect(page.getByRole("group", { name: /^Step \d/ })).toHaveCount(1);
  await expect(page.getByRole("group", { name: "Step 1 · Filter" }).getByLabel("Condition")).toHaveValue("body.two");
});

test("an open list page follows state changes made elsewhere, with no reload", async ({ page, browser }, info) => {
  const name = uniqueName("Watched", info);
  const other = await (await browser.newContext()).newPage();
  await design(other, name, uniquePath("watched", info), [{ kind: "log", message: "x" }]);
  await openHydrated(page, `/?q=${encodeURIComponent(name)}`);
  const row = page.getByRole("row", { name: new RegExp(name) });
  await expect(row.getByTestId("current-state")).toHaveText("Draft");
  await page.evaluate(() => ((window as any).__stillTheSamePage = true));

  await publish(other);

  await expect(row.getByTestId("current-state")).toHaveText("Active");
  await expect(row.getByTestId("active-version")).toHaveText("v1");
  expect(await page.evaluate(() => (window as any).__stillTheSamePage)).toBe(true);
});
