import { expect, test } from "@playwright/test";
import { hyperion } from "./helpers";
import { Gate } from "./support/gate";

// The `piped` repository lands through the speculative pipeline in batches of two, and its one
// check waits at the gate (e2e/prepare.ts): while it waits, /queue shows the lane as it stands.
const gate = new Gate();
test.describe.configure({ mode: "serial" });
test.beforeAll(() => gate.start());
test.afterAll(() => gate.stop());

const author = { name: "E2E Agent", email: "agent@example.test" };

/** Submits new files as change requests in one call, so they are queued together. */
async function submitNew(files: string[]) {
  const res = await hyperion(
    ["submit", "-"],
    JSON.stringify(
      files.map((file) => ({
        repo: "piped",
        patch: [
          `diff --git a/${file} b/${file}`,
          "new file mode 100644",
          "--- /dev/null",
          `+++ b/${file}`,
          "@@ -0,0 +1 @@",
          "+export const x = 1;",
          "",
        ].join("\n"),
        summary: `E2E piped: add ${file}`,
        author,
        checks: ["gate"],
      })),
    ),
  );
  expect(res.exitCode, res.stderr).toBe(0);
}

test("/queue shows a lane's batches stacked on each other, then when the next ones should land", async ({
  page,
}) => {
  test.setTimeout(90_000);
  gate.set("hold");
  const n = Date.now();
  // Queued together, so one lane takes them all: two batches of two, the second on the first.
  await submitNew([1, 2, 3, 4].map((i) => `src/p${n}-${i}.js`));
  await gate.arrived();
  await page.goto("/queue");
  await expect(page.getByTestId("queue-live")).toHaveText("● live");
  const places = page.getByTestId("pipeline-place");
  await expect(places.filter({ hasText: "batch 1 of 2" })).toHaveCount(2, { timeout: 20_000 });
  await expect(places.filter({ hasText: "batch 2 of 2" })).toHaveCount(2);
  await expect(places.filter({ hasText: "batch 1 of 2" }).first()).toContainText("the tip");
  await expect(places.filter({ hasText: "batch 2 of 2" }).first()).toContainText(/on Q\d+/);
  gate.set("pass");
  await expect(page.getByTestId("finished-table")).toContainText(`p${n}-4.js`, {
    timeout: 20_000,
  });

  // Checks have run, so the next entries get an estimate of when they land.
  gate.set("hold");
  await submitNew([5, 6].map((i) => `src/p${n}-${i}.js`));
  await gate.arrived();
  await expect(page.getByTestId("entry-eta").first()).toContainText(/about \d+ (s|min)/, {
    timeout: 20_000,
  });
  gate.set("pass");
  await expect(page.getByTestId("finished-table")).toContainText(`p${n}-6.js`, {
    timeout: 20_000,
  });
});
