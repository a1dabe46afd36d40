import { execFileSync } from "node:child_process";
import { expect, test } from "@playwright/test";
import { addStep, design, integrationId, openHydrated, publish, uniqueName, uniquePath } from "./support";

// The PostgreSQL server the test suite runs against (.ci/test makes sure one answers).
const postgres = new URL(process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test");

test("a person adds a PostgreSQL connection, tests it, and a flow inserts through it", async ({ page, request }, info) => {
  const connection = uniquePath("orders-db", info);
  const path = uniquePath("pg-orders", info);
  const table = `e2e_orders_${info.workerIndex}`;
  // The table the flow writes to, made as its owner would (psql comes with PostgreSQL).
  execFileSync("psql", [postgres.toString(), "-q", "-c", `CREATE TABLE IF NOT EXISTS ${table} (id SERIAL PRIMARY KEY, item TEXT)`]);

  await openHydrated(page, "/connections");
  await page.getByLabel("Kind").selectOption("postgres");
  await page.getByLabel("Name").fill(connection);
  await page.getByLabel("Host").fill(postgres.hostname);
  await page.getByLabel("Port").fill(postgres.port || "5432");
  await page.getByLabel("Database").fill(postgres.pathname.slice(1));
  await page.getByLabel("User", { exact: true }).fill(postgres.username);
  await page.getByLabel("TLS").selectOption("disable");
  await page.getByLabel("Password").fill(decodeURIComponent(postgres.password) || "unused");
  // The database is on loopback: only an administrator may open that.
  await page.getByLabel("May reach private and loopback addresses").check();
  await page.getByRole("button", { name: "Add connection" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Saved ${connection}.` })).toBeVisible();

  const row = page.getByRole("row").filter({ hasText: connection });
  await row.getByRole("button", { name: `Test ${connection}` }).click();
  await expect(row.getByRole("status")).toContainText("connected: PostgreSQL");

  await design(page, uniqueName("Orders into PostgreSQL", info), path, [
    {
      kind: "sql",
      connection,
      query: `INSERT INTO ${table} (item) VALUES ($1) RETURNING id`,
      params: '["{{ body.item }}"]',
    },
    { kind: "log", message: "stored order {{ body.rows[0].id }}" },
  ]);
  // The picker went by the name, not the order of the list.
  await expect(page.getByRole("group", { name: "Step 1 · SQL statement" }).getByLabel("Connection")).toHaveValue(connection);
  await publish(page);
  await expect(page.getByTestId("current-state")).toHaveText("Active");

  const answer = await request.post(`/hooks/${path}`, { data: { item: "O'Brien'; DROP TABLE x; --" } });
  expect(answer.status()).toBe(200);
  const id = (await answer.json()).rows[0].id;
  expect(typeof id).toBe("number");
  const stored = execFileSync("psql", [postgres.toString(), "-tA", "-c", `SELECT item FROM ${table} WHERE id = ${id}`]);
  expect(stored.toString().trim()).toBe("O'Brien'; DROP TABLE x; --");
  await openHydrated(page, `/integrations/${integrationId(page)}`);
  await expect(page.getByTestId("activity-row").first()).toContainText(`stored order ${id}`);
});

test("a person connects RabbitMQ, and a queue's messages run a flow another flow publishes to", async ({ page, request }, info) => {
  const connection = uniquePath("rabbit", info);
  const queue = uniquePath("e2e-orders", info);
  const path = uniquePath("to-rabbit", info);

  await openHydrated(page, "/connections");
  await page.getByLabel("Kind").selectOption("amqp");
  await page.getByLabel("Name").fill(connection);
  await page.getByLabel("Host", { exact: true }).fill("127.0.0.1");
  await page.getByLabel("Port").fill("5672");
  await page.getByLabel("Virtual host").fill("/");
  await page.getByLabel("User", { exact: true }).fill("guest");
  await page.getByLabel("Password").fill("guest");
  await page.getByLabel("May reach private and loopback addresses").check();
  await page.getByRole("button", { name: "Add connection" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Saved ${connection}.` })).toBeVisible();

  // The consumer: a queue (declared), each message logged.
  const consumer = uniqueName("Orders from RabbitMQ", info);
  await openHydrated(page, "/integrations/new");
  await page.getByLabel("Name", { exact: true }).fill(consumer);
  await page.getByLabel("Starts on").selectOption("amqp");
  await page.getByLabel("Connection").selectOption(connection);
  await page.getByLabel("Queue", { exact: true }).fill(queue);
  await page.getByLabel("Declare the queue (durable) if it is not there").check();
  await page.getByLabel("Prefetch").fill("5");
  await addStep(page, 1, { kind: "log", message: "order {{ body.id }} from the queue" });
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page).toHaveURL(/\/integrations\/[0-9a-f-]+\/edit$/);
  await expect(page.getByRole("heading", { name: `Edit ${consumer}` })).toBeVisible();
  await expect(page.getByLabel("Queue", { exact: true })).toHaveValue(queue);
  await publish(page);
  await expect(page.getByTestId("current-state")).toHaveText("Active");
  const consumerId = integrationId(page);

  // The publisher: a webhook whose one step sends the body to that queue.
  await design(page, uniqueName("Orders into RabbitMQ", info), path, [
    { kind: "amqp_publish", connection, exchange: "", routing_key: queue },
  ]);
  await publish(page);
  await expect(page.getByTestId("current-state")).toHaveText("Active");

  const answer = await request.post(`/hooks/${path}`, { data: { id: 42 } });
  expect(answer.status()).toBe(200);
  expect((await answer.json()).published).toBe(true);
  await expect(async () => {
    await openHydrated(page, `/integrations/${consumerId}`);
    await expect(page.getByTestId("activity-row").first()).toContainText("order 42 from the queue", { timeout: 1000 });
  }).toPass();
});
