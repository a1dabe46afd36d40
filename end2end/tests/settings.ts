import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Shared by the configuration and the tests. Playwright loads the configuration again
// in every worker: the data directories are made once, in the first process, and
// handed down through the environment, so that every process agrees on them.
function handedDown(variable: string, prefix: string): string {
  const dir = process.env[variable] ?? mkdtempSync(join(tmpdir(), prefix));
  process.env[variable] = dir;
  return dir;
}

/** The server under test, with a fresh SQLite database in its data directory. */
export const port = Number(process.env.JUNCTION_E2E_PORT ?? 3199);
export const dataDir = handedDown("JUNCTION_E2E_DATA", "junction-e2e-");
/** A second server that nobody has set up yet, for the first-run journey. */
export const firstRunPort = port + 1;
export const emptyDataDir = handedDown("JUNCTION_E2E_EMPTY_DATA", "junction-e2e-empty-");
/** The administrator the server starts with (JUNCTION_ADMIN_USER and _PASSWORD). */
export const admin = { name: "admin", password: "playwright admin password" };
/** The signed-in browser state the tests start from. */
export const signedIn = join(dataDir, "signed-in.json");
