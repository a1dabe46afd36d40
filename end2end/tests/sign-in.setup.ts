import { expect, test as setup } from "@playwright/test";
import { admin, signedIn } from "./settings";
import { signIn } from "./support";

setup("the administrator signs in", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/sign-in\?next=%2F$/);
  await signIn(page, admin.name, admin.password);
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("banner")).toContainText("admin");
  await page.context().storageState({ path: signedIn });
});
