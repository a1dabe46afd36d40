import { expect, test } from "@playwright/test";
import { readFile, writeFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { design, integrationId, openHydrated, publish, uniqueName, uniquePath } from "./support";

test("a person exports an integration from its history and imports it as another", async ({ page }, info) => {
  const name = uniqueName("Shipping", info);
  await design(page, name, uniquePath("shipping", info), [{ kind: "transform", template: '{"shipped": true}' }]);
  await publish(page, "first cut");
  const id = integrationId(page);

  await openHydrated(page, `/integrations/${id}/history`);
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Export" }).click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^shipping-.*\.junction\.json$/);
  const document = JSON.parse(await readFile(await file.path(), "utf8"));
  expect(document.integrations[0].versions[0].note).toBe("first cut");

  // As if from another server: the same history under another id and name (the
  // content hashes cover the flows, not these).
  const copyName = uniqueName("Shipping copy", info);
  document.integrations[0].id = randomUUID();
  document.integrations[0].name = copyName;
  const copy = info.outputPath("copy.junction.json");
  await writeFile(copy, JSON.stringify(document));

  await openHydrated(page, "/");
  await page.getByLabel("Export file").setInputFiles(copy);
  await page.getByRole("button", { name: "Import", exact: true }).click();
  await expect(page).toHaveURL(/\/integrations\/[0-9a-f-]+\/history\?imported=/);
  await expect(page.getByRole("heading", { name: `History of ${copyName}` })).toBeVisible();
  await expect(page.getByRole("status")).toContainText(`created ${copyName} with v1`);
  const row = page.getByTestId("version-row").filter({ hasText: "first cut" });
  await expect(row).toContainText("imported from http://127.0.0.1");
  // Nothing starts by itself.
  await expect(page.getByTestId("current-state")).toHaveText("Inactive");
});

test("a file that is not an export is refused, saying why, and imports nothing", async ({ page }, info) => {
  const junk = info.outputPath("notes.json");
  await writeFile(junk, "these are my notes, not JSON");
  await openHydrated(page, "/");
  await page.getByLabel("Export file").setInputFiles(junk);
  await page.getByRole("button", { name: "Import", exact: true }).click();
  await expect(page).toHaveURL(/import_error=/);
  await expect(page.getByRole("alert").filter({ hasText: "Nothing was imported" })).toContainText(
    "document: the file is not JSON",
  );
});
