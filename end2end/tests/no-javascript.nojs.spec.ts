import { expect, test } from "@playwright/test";
import { admin } from "./settings";
import { uniqueName } from "./support";

// This file runs in the project with JavaScript disabled: plain HTML forms and links.

test("a person creates an integration with a plain form post", async ({ page }, info) => {
  const name = uniqueName("No script", info);
  await page.goto("/");

  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Description").fill("works everywhere");
  await page.getByRole("button", { name: "Create integration" }).click();

  await expect(page).toHaveURL(/\/\??$/);
  await expect(page.getByRole("row", { name: new RegExp(name) })).toContainText("works everywhere");
});

test("a duplicate name comes back with the message and what was typed", async ({ page }, info) => {
  const name = uniqueName("Payroll", info);
  await page.goto("/");
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByRole("button", { name: "Create integration" }).click();
  await expect(page.getByRole("row", { name: new RegExp(name) })).toBeVisible();

  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Description").fill("second try");
  await page.getByRole("button", { name: "Create integration" }).click();

  await expect(page.locator("#name-error")).toHaveText(`an integration named “${name}” already exists`);
  await expect(page.getByLabel("Name", { exact: true })).toHaveValue(name);
  await expect(page.getByLabel("Description")).toHaveValue("second try");
  await page.goto("/");
  await expect(page.getByRole("row", { name: new RegExp(name) })).toHaveCount(1);
});

test("a person publishes and stops an integration with plain forms", async ({ page }, info) => {
  const name = uniqueName("Plain", info);
  await page.goto("/");
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByRole("button", { name: "Create integration" }).click();
  await page.getByRole("link", { name }).click();
  const state = page.getByTestId("current-state");
  await expect(state).toHaveText("Draft");

  await page.getByLabel("Publish note").fill("without a script");
  await page.getByRole("button", { name: "Publish", exact: true }).click();
  // Without JavaScript nothing updates by itself: the person reloads until it is up.
  await expect(async () => {
    await page.reload();
    await expect(state).toHaveText("Active", { timeout: 500 });
  }).toPass();
  await expect(page.getByTestId("active-version")).toHaveText("v1");

  await page.getByRole("button", { name: "Stop" }).click();
  await expect(async () => {
    await page.reload();
    await expect(state).toHaveText("Inactive", { timeout: 500 });
  }).toPass();
});

test.describe("signed out", () => {
  test.use({ storageState: { cookies: [], origins: [] } });

  test("a person signs in and publishes with plain forms", async ({ page }, info) => {
    const name = uniqueName("Signed", info);
    await page.goto("/");
    await expect(page).toHaveURL(/\/sign-in\?next=/);
    await page.getByLabel("User name").fill(admin.name);
    await page.getByLabel("Password").fill(admin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page).toHaveURL(/\/$/);

    await page.getByLabel("Name", { exact: true }).fill(name);
    await page.getByRole("button", { name: "Create integration" }).click();
    await page.getByRole("link", { name }).click();
    await page.getByRole("button", { name: "Publish", exact: true }).click();
    const state = page.getByTestId("current-state");
    await expect(async () => {
      await page.reload();
      await expect(state).toHaveText("Active", { timeout: 500 });
    }).toPass();
  });
});
