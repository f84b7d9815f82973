import fs from "node:fs";
import path from "node:path";
import { Repo } from "@/server/git/repo";
import { demoFiles } from "./files";

const AUTHOR = { name: "Hyperion Demo", email: "demo@hyperion.local" };

/** Creates the demo repository (a real git repo on branch main) unless it already exists. */
export async function createDemoRepo(dir: string): Promise<boolean> {
  if (fs.existsSync(path.join(dir, ".git"))) return false;
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(demoFiles)) {
    const target = path.join(dir, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, content);
  }
  const repo = await Repo.init(dir, "main");
  await repo.addAll();
  await repo.commit("Demo shop: first commit", AUTHOR);
  return true;
}
