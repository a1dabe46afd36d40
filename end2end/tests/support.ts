import { expect, type Page, type TestInfo } from "@playwright/test";

/** A name no other test (or earlier run against the same server) uses. */
export function uniqueName(base: string, testInfo: TestInfo): string {
  return `${base} ${testInfo.workerIndex}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Opens a page and waits until the browser bundle has taken over the server's HTML. */
export async function openHydrated(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}
