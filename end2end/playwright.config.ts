import { defineConfig, devices } from "@playwright/test";
import { resolve } from "node:path";
import { admin, dataDir, emptyDataDir, firstRunPort, port, signedIn } from "./tests/settings";

// The server under test: the release binary that .ci/test built, on its own port with a
// fresh SQLite database in a new temporary data directory, so every run starts empty.
const binary = process.env.JUNCTION_BIN ?? resolve(__dirname, "../target/release/junction");
const siteRoot = process.env.LEPTOS_SITE_ROOT ?? resolve(__dirname, "../target/site");

// The system Chromium: Playwright's own browser download is not possible here.
const launchOptions = {
  executablePath: "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
};

export default defineConfig({
  testDir: "./tests",
  fullyParallel: true,
  forbidOnly: !!process.env.CI,
  retries: 0,
  workers: 2,
  reporter: [["list"]],
  timeout: 30_000,
  expect: { timeout: 10_000 },
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
  },
  projects: [
    // Signs in once through the sign-in page, as a person; the others start from there.
    {
      name: "sign in",
      testMatch: /\.setup\.ts$/,
      use: { ...devices["Desktop Chrome"], launchOptions },
    },
    {
      name: "chromium",
      testIgnore: /\.(nojs\.spec|setup)\.ts$/,
      dependencies: ["sign in"],
      use: {
        ...devices["Desktop Chrome"],
        launchOptions,
        storageState: signedIn,
      },
    },
    {
      name: "chromium without JavaScript",
      testMatch: /\.nojs\.spec\.ts$/,
      dependencies: ["sign in"],
      use: {
        ...devices["Desktop Chrome"],
        javaScriptEnabled: false,
        launchOptions,
        storageState: signedIn,
      },
    },
  ],
  webServer: [
    {
      command: `"${binary}" --addr 127.0.0.1:${port} --data-dir "${dataDir}" --log warn`,
      env: {
        LEPTOS_SITE_ROOT: siteRoot,
        DATABASE_URL: "",
        JUNCTION_ADMIN_USER: admin.name,
        JUNCTION_ADMIN_PASSWORD: admin.password,
      },
      url: `http://127.0.0.1:${port}/sign-in`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
      stderr: "pipe",
    },
    {
      command: `"${binary}" --addr 127.0.0.1:${firstRunPort} --data-dir "${emptyDataDir}" --log warn`,
      env: { LEPTOS_SITE_ROOT: siteRoot, DATABASE_URL: "" },
      url: `http://127.0.0.1:${firstRunPort}/first-run`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
      stderr: "pipe",
    },
  ],
});
