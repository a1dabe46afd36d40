import { expect, test } from "@playwright/test";
import { openHydrated, uniqueName } from "./support";

test.describe("with JavaScript", () => {
  test("a person creates an integration and sees it listed without a reload", async ({ page }, testInfo) => {
    const name = uniqueName("Order sync", testInfo);
    await openHydrated(page, "/");
    // A marker that a full page load would wipe out.
    await page.evaluate(() => ((window as any).__stillTheSamePage = true));

    await page.getByLabel("Name").fill(name);
    await page.getByLabel("Description").fill("Copies shop orders to the ERP");
    await page.getByRole("button", { name: "Create integration" }).click();

    const row = page.getByRole("row", { name: new RegExp(name) });
    await expect(row).toBeVisible();
    await expect(row).toContainText("Copies shop orders to the ERP");
    await expect(page.getByLabel("Name")).toHaveValue("");
    expect(await page.evaluate(() => (window as any).__stillTheSamePage)).toBe(true);
  });

  test("a duplicate name, in another case, is refused next to the field and creates nothing", async ({ page }, testInfo) => {
    const name = uniqueName("Invoices", testInfo);
    await openHydrated(page, "/");
    await page.getByLabel("Name").fill(name);
    await page.getByRole("button", { name: "Create integration" }).click();
    await expect(page.getByRole("row", { name: new RegExp(name) })).toBeVisible();

    await page.getByLabel("Name").fill(name.toUpperCase());
    await page.getByRole("button", { name: "Create integration" }).click();

    await expect(page.locator("#name-error")).toHaveText(
      `an integration named “${name.toUpperCase()}” already exists`,
    );
    await expect(page.getByLabel("Name")).toHaveAttribute("aria-invalid", "true");
    await expect(page.getByLabel("Name")).toHaveValue(name.toUpperCase());
    await page.reload();
    await expect(page.getByRole("row", { name: new RegExp(name, "i") })).toHaveCount(1);
  });

  test("the name is checked while it is typed, with the server's rules", async ({ page }) => {
    await openHydrated(page, "/");
    const field = page.getByLabel("Name");

    await field.fill("x".repeat(101));
    await expect(page.locator("#name-error")).toHaveText("a name is at most 100 characters (this one has 101)");

    await field.fill("   ");
    await expect(page.locator("#name-error")).toHaveText("a name is required");

    await field.fill("Fine");
    await expect(page.locator("#name-error")).toHaveText("");
  });
});
