import { expect, test } from "@playwright/test";
import { admin, firstRunPort } from "./settings";
import { design, integrationId, openHydrated, signIn, uniqueName, uniquePath } from "./support";

test("on a new server, every page leads to creating the first administrator, who is then signed in", async ({ browser }) => {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  const base = `http://127.0.0.1:${firstRunPort}`;

  await page.goto(`${base}/integrations/new`);
  await expect(page).toHaveURL(`${base}/first-run`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("User name").fill("founder");
  await page.getByLabel("Display name").fill("The Founder");
  await page.getByLabel("Password").fill("founding password");
  await page.getByRole("button", { name: "Create the administrator" }).click();

  await expect(page).toHaveURL(`${base}/`);
  await expect(page.getByRole("banner")).toContainText("The Founder");
  await expect(page.getByRole("banner")).toContainText("admin");
  await context.close();
});

test("a viewer sees no Publish button, and a direct publish is refused", async ({ page, browser }, info) => {
  await design(page, uniqueName("Viewed", info), uniquePath("viewed", info), [{ kind: "log", message: "x" }]);
  const id = integrationId(page);
  const viewer = `viewer-${info.workerIndex}-${Date.now().toString(36)}`;
  const added = await page.request.post("/api/v1/users", {
    data: { name: viewer, password: "viewer's password", role: "viewer" },
  });
  expect(added.status()).toBe(201);

  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const theirs = await context.newPage();
  await theirs.goto(`/integrations/${id}`);
  await signIn(theirs, viewer, "viewer's password");
  await expect(theirs).toHaveURL(new RegExp(`/integrations/${id}$`));
  await expect(theirs.locator("body")).toHaveAttribute("data-hydrated", "true");

  await expect(theirs.getByTestId("current-state")).toHaveText("Draft");
  await expect(theirs.getByRole("button", { name: "Publish", exact: true })).toHaveCount(0);
  await expect(theirs.getByRole("link", { name: "New integration" })).toHaveCount(0);
  const direct = await theirs.request.post(`/api/v1/integrations/${id}/publish`, { data: {} });
  expect(direct.status()).toBe(403);
  expect((await direct.json()).error.message).toContain("the viewer role may not publish");
  await context.close();
});

test("a person signs out, and the pages ask them to sign in again", async ({ browser }) => {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto("/");
  await signIn(page, admin.name, admin.password);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");

  await page.getByRole("button", { name: "Sign out" }).click();

  await expect(page).toHaveURL(/\/sign-in$/);
  await page.goto("/");
  await expect(page).toHaveURL(/\/sign-in\?next=/);
  await context.close();
});

test("a wrong password is answered without saying whether the user exists", async ({ browser }) => {
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await openHydrated(page, "/sign-in");

  await page.getByLabel("User name").fill("nobody-at-all");
  await page.getByLabel("Password").fill("not a password");
  await page.getByRole("button", { name: "Sign in" }).click();

  await expect(page.getByRole("alert")).toHaveText("the user name or the password is wrong");
  await expect(page).toHaveURL(/\/sign-in/);
  await context.close();
});

test("a person makes an API token, sees it once, a script uses it, and revoking ends it", async ({ page, playwright, baseURL }, info) => {
  const name = uniqueName("script", info);
  await openHydrated(page, "/tokens");
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByRole("button", { name: "Make token" }).click();
  const shown = page.getByLabel("The new token");
  await expect(shown).toHaveText(/^jct_[0-9a-f]{64}$/);
  const token = (await shown.textContent()) ?? "";

  const script = await playwright.request.newContext({ baseURL, extraHTTPHeaders: { authorization: `Bearer ${token}` } });
  expect((await script.get("/api/v1/me")).status()).toBe(200);
  await openHydrated(page, "/tokens");
  await expect(page.getByLabel("The new token")).toHaveCount(0);
  const row = page.getByRole("row", { name: new RegExp(name) });
  await expect(row).not.toContainText("not yet");

  await row.getByRole("button", { name: `Revoke ${name}` }).click();

  await expect(row).toHaveCount(0);
  expect((await script.get("/api/v1/me")).status()).toBe(401);
  await script.dispose();
});

test("an administrator adds a user, changes their role and disables them", async ({ page, browser }, info) => {
  const name = `ed-${info.workerIndex}-${Date.now().toString(36)}`;
  await openHydrated(page, "/users");
  const form = page.getByRole("region", { name: "Add a user" });
  await form.getByLabel("User name").fill(name);
  await form.getByLabel("Password").fill("editor's password");
  await form.getByLabel("Role").selectOption("editor");
  await form.getByRole("button", { name: "Add user" }).click();

  const row = page.getByRole("row", { name: new RegExp(name) });
  await expect(row.getByLabel(`Role of ${name}`)).toHaveValue("editor");
  await row.getByLabel(`Role of ${name}`).selectOption("viewer");
  await row.getByRole("button", { name: "Change role" }).click();
  await expect
    .poll(async () => ((await (await page.request.get("/api/v1/users")).json()) as { name: string; role: string }[]).find((u) => u.name === name)?.role)
    .toBe("viewer");
  await row.getByRole("button", { name: "Disable" }).click();
  await expect(row.getByRole("button", { name: "Enable" })).toBeVisible();

  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const theirs = await context.newPage();
  await openHydrated(theirs, "/sign-in");
  await theirs.getByLabel("User name").fill(name);
  await theirs.getByLabel("Password").fill("editor's password");
  await theirs.getByRole("button", { name: "Sign in" }).click();
  await expect(theirs.getByRole("alert")).toHaveText("the user name or the password is wrong");
  await context.close();
});
