import type { z } from "zod";
import type { Policy } from "@/schemas/policy";

/**
 * The demo repository's policy, modelled on the seed's area tables: code in src, its tests,
 * docs and CI, and the build manifest. Docs and CI are low risk and share by file.
 */
export const demoPolicy: z.input<typeof Policy> = {
  areas: [
    { name: "cart", paths: ["src/cart/**"], risk: "medium", lockScope: "files" },
    { name: "pricing", paths: ["src/pricing/**"], risk: "high", lockScope: "area" },
    { name: "src", paths: ["src/*", "src/lib/**"], risk: "medium", lockScope: "files" },
    { name: "tests", paths: ["tests/**"], risk: "low", lockScope: "files" },
    { name: "docs", paths: ["docs/**", "*.md"], risk: "low", lockScope: "files" },
    { name: "ci", paths: [".github/**"], risk: "low", lockScope: "files" },
    {
      name: "build",
      paths: ["package.json", "package-lock.json"],
      risk: "high",
      lockScope: "area",
    },
  ],
  limits: { maxFilesPerTask: 8, maxContextTokens: 60_000, maxTasksPerRequest: 20 },
  // The only commands Hyperion runs for this repository: requests and changes can name them.
  checks: { test: "npm test" },
  validation: {
    lint: [],
    test: ["test"],
    byArea: { docs: { lint: [], test: [] }, ci: { lint: [], test: [] } },
  },
  qa: { kinds: ["feature", "bugfix"], escalateAfterMinutes: 240 },
};
