import { defineConfig, devices } from "@playwright/test";
import { ADMIN_STATE, E2E_DATA, E2E_PORT as PORT, REPORT, RESULTS } from "./e2e/support/ports";

export { ADMIN_STATE, E2E_DATA };

// The server listens on loopback only (HOST's default); name the address rather than
// `localhost`, which may resolve to ::1 first.
const ORIGIN = `http://127.0.0.1:${PORT}`;
export const ADMIN = { email: "admin@hyperion.local", password: "e2e-admin-password" };

// Debian's Chromium, never a downloaded browser (the machine cannot fetch one).
const chromium = {
  ...devices["Desktop Chrome"],
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  },
};

export default defineConfig({
  testDir: "e2e",
  // Per run (e2e/support/ports.ts): Playwright empties it when a run starts.
  outputDir: RESULTS,
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: process.env.CI
    ? [["list"]]
    : [["list"], ["html", { open: "never", outputFolder: REPORT }]],
  timeout: 30_000,
  expect: { timeout: 5_000 },
  use: {
    baseURL: ORIGIN,
    trace: "retain-on-failure",
  },
  projects: [
    { name: "setup", testMatch: /auth\.setup\.ts/, use: chromium },
    {
      name: "chromium",
      testIgnore: /auth\.setup\.ts/,
      dependencies: ["setup"],
      use: { ...chromium, storageState: ADMIN_STATE },
    },
  ],
  // The production build with the worker, on a fresh data directory made by e2e/serve.mjs.
  webServer: {
    command: "node e2e/serve.mjs",
    url: `${ORIGIN}/signin`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      PORT: String(PORT),
      HOST: "127.0.0.1",
      NEXTAUTH_URL: ORIGIN,
      HYPERION_DATA: E2E_DATA,
      HYPERION_ADMIN_PASSWORD: ADMIN.password,
      HYPERION_MAX_BODY_BYTES: String(256 * 1024),
      HYPERION_MAX_ATTEMPTS: "2",
      HYPERION_BACKOFF_MS: "100",
      // The key the real agent CLIs send to the scripted model server (e2e/support/agents.ts).
      E2E_SCRIPTED_MODEL_KEY: "scripted-key-not-a-secret",
    },
  },
});
