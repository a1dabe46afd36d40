import { execFileSync } from "node:child_process";
import { expect, test } from "@playwright/test";
import { design, integrationId, openHydrated, publish, uniqueName, uniquePath } from "./support";

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
