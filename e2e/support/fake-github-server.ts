// Runs the fake GitHub for the end-to-end run (e2e/serve.mjs starts it; it ends with its parent).
import { startFakeGithub } from "@/test-support/fake-github";
import { GITHUB_PORT, GITHUB_REPO, GITHUB_TOKEN } from "./github";

const fake = await startFakeGithub({ token: GITHUB_TOKEN, repo: GITHUB_REPO, port: GITHUB_PORT });
console.error(`fake GitHub on ${fake.apiUrl}`);
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.on(signal, () => {
    void fake.stop().then(() => process.exit(0));
  });
