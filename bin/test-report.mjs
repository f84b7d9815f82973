// The end of `npm test`'s log for a Vitest step, from its JSON report: the failed tests with the
// first lines of their errors, and the ten slowest tests. bin/test.mjs prints it after all lanes
// have finished, where a CI log's tail shows it whatever the lanes printed in between.
import fs from "node:fs";
import path from "node:path";

const seconds = (ms) => ((ms ?? 0) / 1000).toFixed(1);

/** What to print for the report at `file` of step `label`; "" when there is no readable report. */
export function summarise(file, label, root) {
  let report;
  try {
    report = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return "";
  }
  const out = [];
  const errorLines = (text) =>
    (text ?? "")
      .split("\n")
      .filter((line) => line.trim() !== "" && !/node_modules|node:internal|new Promise/.test(line))
      .slice(0, 6)
      .map((line) => `      ${line.slice(0, 200)}`);
  const tests = report.testResults.flatMap((f) =>
    f.assertionResults.map((t) => ({ ...t, file: path.relative(root, f.name) })),
  );
  const failed = tests.filter((t) => t.status === "failed");
  // A file that failed outside any test (an import error, a hook) has no failed test to name.
  const brokenFiles = report.testResults.filter(
    (f) => f.status === "failed" && !f.assertionResults.some((t) => t.status === "failed"),
  );
  if (failed.length > 0 || brokenFiles.length > 0) {
    out.push("", `[${label}] failed:`);
    for (const t of failed) {
      out.push(`  ${t.file} › ${t.fullName} (${seconds(t.duration)} s)`);
      out.push(...errorLines((t.failureMessages ?? []).join("\n")));
    }
    for (const f of brokenFiles) {
      out.push(`  ${path.relative(root, f.name)}`, ...errorLines(f.message));
    }
  }
  const slowest = tests.toSorted((a, b) => (b.duration ?? 0) - (a.duration ?? 0)).slice(0, 10);
  out.push("", `[${label}] slowest tests (seconds):`);
  for (const t of slowest) {
    out.push(`  ${seconds(t.duration).padStart(6)}  ${t.file} › ${t.fullName.slice(0, 110)}`);
  }
  return `${out.join("\n")}\n`;
}
