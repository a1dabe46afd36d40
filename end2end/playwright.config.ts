import { defineConfig, devices } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// The server under test: the release binary that .ci/test built, on its own port with a
// fresh SQLite database in a new temporary data directory, so every run starts empty.
const port = Number(process.env.JUNCTION_E2E_PORT ?? 3199);
const binary = process.env.JUNCTION_BIN ?? resolve(__dirname, "../target/release/junction");
const siteRoot = process.env.LEPTOS_SITE_ROOT ?? resolve(__dirname, "../target/site");
const dataDir = mkdtempSync(join(tmpdir(), "junction-e2e-"));

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
    {
      name: "chromium",
      testIgnore: /\.nojs\.spec\.ts$/,
      use: {
        ...devices["Desktop Chrome"],
        launchOptions,
      },
    },
    {
      name: "chromium without JavaScript",
      testMatch: /\.nojs\.spec\.ts$/,
      use: {
        ...devices["Desktop Chrome"],
        javaScriptEnabled: false,
        launchOptions,
      },
    },
  ],
  webServer: {
    command: `"${binary}" --addr 127.0.0.1:${port} --data-dir "${dataDir}" --log warn`,
    env: { LEPTOS_SITE_ROOT: siteRoot, DATABASE_URL: "" },
    url: `http://127.0.0.1:${port}/`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
    stderr: "pipe",
  },
});
