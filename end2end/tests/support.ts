import { expect, type Page, type TestInfo } from "@playwright/test";

/** A name no other test (or earlier run against the same server) uses. */
export function uniqueName(base: string, testInfo: TestInfo): string {
  return `${base} ${testInfo.workerIndex}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

/** A webhook path no other test uses. */
export function uniquePath(base: string, testInfo: TestInfo): string {
  return `${base}-${testInfo.workerIndex}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Opens a page and waits until the browser bundle has taken over the server's HTML. */
export async function openHydrated(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

export type Step =
  | { kind: "log"; message: string }
  | { kind: "transform"; template: string }
  | { kind: "filter"; condition: string }
  | { kind: "http"; url: string }
  | { kind: "sql"; connection: string; query: string; params?: string }
  | { kind: "amqp_publish"; connection: string; exchange: string; routing_key: string };

const LABELS = {
  log: "Log",
  transform: "Transform",
  filter: "Filter",
  http: "HTTP request",
  sql: "SQL statement",
  amqp_publish: "RabbitMQ publish (AMQP)",
} as const;

/** Adds a step at the end of the editor's flow and fills it in, as a person would. */
export async function addStep(page: Page, number: number, step: Step): Promise<void> {
  await page.getByLabel("New step").selectOption(step.kind);
  await page.getByRole("button", { name: "Add step" }).click();
  const group = page.getByRole("group", { name: `Step ${number} · ${LABELS[step.kind]}` });
  switch (step.kind) {
    case "log":
      await group.getByLabel("Message").fill(step.message);
      break;
    case "transform":
      await group.getByLabel("Template (JSON)").fill(step.template);
      break;
    case "filter":
      await group.getByLabel("Condition").fill(step.condition);
      break;
    case "http":
      await group.getByLabel("URL").fill(step.url);
      break;
    case "sql":
      await group.getByLabel("Connection").selectOption(step.connection);
      await group.getByLabel("Statement").fill(step.query);
      if (step.params) await group.getByLabel("Parameters (JSON list)").fill(step.params);
      break;
    case "amqp_publish":
      await group.getByLabel("Connection").selectOption(step.connection);
      await group.getByLabel("Exchange").fill(step.exchange);
      await group.getByLabel("Routing key").fill(step.routing_key);
      break;
  }
}

/** Designs a webhook integration in the editor and saves it; ends on its edit page. */
export async function design(page: Page, name: string, path: string, steps: Step[]): Promise<void> {
  await openHydrated(page, "/integrations/new");
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Webhook path").fill(path);
  for (const [index, step] of steps.entries()) {
    await addStep(page, index + 1, step);
  }
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page).toHaveURL(/\/integrations\/[0-9a-f-]+\/edit$/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  // The URL changes before the edit page has replaced the new one: until its heading
  // shows, the fields found may still be the new page's, about to go.
  await expect(page.getByRole("heading", { name: `Edit ${name}` })).toBeVisible();
}

/** Publishes the saved draft from the current page, confirming the difference shown. */
export async function publish(page: Page, note = ""): Promise<void> {
  if (note) await page.getByLabel("Publish note").fill(note);
  await page.getByRole("button", { name: "Publish", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toBeVisible();
  await dialog.getByRole("button", { name: "Confirm publish" }).click();
}

/** The id in the current page's URL. */
export function integrationId(page: Page): string {
  const match = page.url().match(/\/integrations\/([0-9a-f-]{36})/);
  if (!match) throw new Error(`no integration id in ${page.url()}`);
  return match[1];
}

/** Signs in on the sign-in page (where the browser is, or is sent to), as a person. */
export async function signIn(page: Page, name: string, password: string): Promise<void> {
  if (!/\/sign-in/.test(page.url())) await page.goto("/sign-in");
  // Text typed before the page is interactive is replaced when it hydrates (the
  // fields then show the form's state): wait, as a person waits for the page.
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("User name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).not.toHaveURL(/\/sign-in/);
}
