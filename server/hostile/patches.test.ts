import fs from "node:fs";
import path from "node:path";
import { desc, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isControl } from "@/schemas/paths";
import type { LoadedConfig } from "@/server/config/load";
import { changeQueueLogs, changeRequests, queueEntries } from "@/server/db/schema";
import { rawValue } from "@/server/db/sql";
import { ValidationError } from "@/server/errors";
import {
  MAX_HUNKS_PER_FILE,
  MAX_LINE_NUMBER,
  MAX_PATCH_FILES,
  MAX_PATCH_HUNK_LINES,
} from "@/server/git/patch-format";
import { git } from "@/server/git/run";
import { STALE_WORKTREE_MARKER } from "@/server/queue/land";
import { defaultLoopOptions, runQueueLoop } from "@/server/queue/loop";
import { submitChanges } from "@/server/queue/submit";
import { getEntry } from "@/server/state/queue/store";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { makeRepoPair, write } from "@/test-support/git-fixtures";

/*
 * Hostile change requests against a real queue: a SQLite file, a checked-out target repository
 * whose worktree the queue keeps in step, and a canary folder beside it. Every case is either
 * refused at submission (a ValidationError naming the field, path or limit, and no row
 * written), failed at landing with a message that says why, or — for the cases that guard
 * against over-broad rules — landed intact.
 */

const author = { name: "Mallory", email: "mallory@example.test" };
const lines = (n: number, tag: string) =>
  `${Array.from({ length: n }, (_, i) => `${tag} ${i + 1}`).join("\n")}\n`;

let world: TestWorld;
let repo: Awaited<ReturnType<typeof makeRepoPair>>;
let target: string;
let canary: string;
let canaryBefore: string;
let config: LoadedConfig;

/** Every file under `dir` with its content (symlinks by target), as one comparable text. */
function snapshot(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) out.push(`${p} -> ${fs.readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${p}/`);
        walk(p);
      } else out.push(`${p}: ${fs.readFileSync(p, "base64")} ${st.mode.toString(8)}`);
    }
  };
  walk(dir);
  return out.join("\n");
}

beforeAll(async () => {
  world = await makeWorld();
  repo = await makeRepoPair({
    "src/a.txt": lines(30, "a"),
    "fixed.txt": "fixed\n",
    "docs/guide.md": "# Guide\n",
    "bin/run.sh": "#!/bin/sh\necho hi\n",
    "img/logo.bin": Buffer.from([0, 1, 2, 3, 255, 254, 0, 7]),
    "big.txt": lines(5000, "big"),
  });
  canary = path.join(repo.root, "canary");
  write(canary, { "secret.txt": "do not touch\n", "nested/deep.txt": "deep\n" });
  canaryBefore = snapshot(canary);
  // A symlink that leaves the repository: writing through it would reach the canary.
  fs.symlinkSync("../canary", path.join(repo.work, "escape"));
  await repo.run(["add", "-A"]);
  await repo.run(["commit", "-q", "-m", "escape hatch"]);
  await repo.run(["push", "-q", repo.bare, "main"]);
  target = path.join(repo.root, "target");
  await git(["clone", "-q", repo.bare, target], { cwd: repo.root });
  config = {
    file: "test",
    repositories: [
      { name: "t", path: target, targetBranch: "main" },
      { name: "bare", path: repo.bare, targetBranch: "main" },
    ],
  };
});

afterAll(async () => {
  await world?.cleanup();
  repo?.cleanup();
});

const count = async (table: "change_requests" | "queue_entries") =>
  Number(await rawValue(world.db, sql`SELECT count(*) FROM ${sql.identifier(table)}`));

async function drain() {
  await runQueueLoop({
    db: world.db,
    config: () => config,
    owner: "hostile",
    opts: {
      ...defaultLoopOptions({}),
      backoffBaseMs: 0,
      backoffMaxMs: 0,
      pollMs: 5,
      drain: true,
    },
    shouldStop: () => false,
  });
}

const tip = async (dir = target) => (await git(["rev-parse", "main"], { cwd: dir })).trim();
const treeOf = async (rev: string, dir: string) =>
  (await git(["rev-parse", `${rev}^{tree}`], { cwd: dir })).trim();

// ---- Patch text, written by hand as an attacker would ----

/** git's C-style quoting (core.quotePath on): what `git diff` writes for unusual names. */
function q(name: string): string {
  const bytes = Buffer.from(name);
  if (!bytes.some((b) => b < 0x20 || b >= 0x7f || b === 0x22 || b === 0x5c)) return name;
  let out = '"';
  for (const b of bytes) {
    const named: Record<number, string> = {
      7: "a",
      8: "b",
      9: "t",
      10: "n",
      11: "v",
      12: "f",
      13: "r",
    };
    if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (named[b]) out += `\\${named[b]}`;
    else if (b < 0x20 || b >= 0x7f) out += `\\${b.toString(8).padStart(3, "0")}`;
    else out += String.fromCharCode(b);
  }
  return `${out}"`;
}

const dg = (a: string, b = a) => `diff --git ${q(`a/${a}`)} ${q(`b/${b}`)}`;

/** A new file, with every part overridable so one part can lie. */
function add(
  p: string,
  o: { mode?: string; header?: [string, string]; plus?: string; body?: string[] } = {},
): string {
  const [ha, hb] = o.header ?? [p, p];
  return [
    dg(ha, hb),
    `new file mode ${o.mode ?? "100644"}`,
    "--- /dev/null",
    `+++ ${o.plus ?? q(`b/${p}`)}`,
    `@@ -0,0 +1,${(o.body ?? ["x"]).length} @@`,
    ...(o.body ?? ["x"]).map((l) => `+${l}`),
    "",
  ].join("\n");
}

/** A one-line change to fixed.txt (which no accepted case touches), parts overridable. */
function mod(o: { header?: [string, string]; minus?: string; plus?: string; hunk?: string } = {}) {
  const [ha, hb] = o.header ?? ["fixed.txt", "fixed.txt"];
  return [
    dg(ha, hb),
    `--- ${o.minus ?? "a/fixed.txt"}`,
    `+++ ${o.plus ?? "b/fixed.txt"}`,
    o.hunk ?? "@@ -1 +1,2 @@",
    " fixed",
    "+more",
    "",
  ].join("\n");
}

const patchOf = (...parts: string[]) => parts.join("");

// ---- Refused at submission ----

type Refusal = {
  name: string;
  patch: string | (() => Promise<string> | string);
  extra?: Record<string, unknown>;
  /** The issue's field (default "patch") and what its message must say. */
  field?: string;
  message: RegExp;
};

const longName = "n".repeat(256);
const refusals: Refusal[] = [
  // Modes: strict octal, then the whitelist; a mode is never a place for more text.
  {
    name: "a mode line with a NUL byte that forges a .git entry",
    patch: add("forge.txt", { mode: "100644\u0000040000 .git" }),
    message:
      /path 'forge\.txt' has new file mode '100644\\u0000040000 \.git', which is not a file mode/,
  },
  {
    name: "a mode with a space that injects a name",
    patch: add("inject.txt", { mode: "100644 evil" }),
    message: /path 'inject\.txt' has new file mode '100644 evil', which is not a file mode/,
  },
  {
    name: "a blob at directory mode 40000",
    patch: add("dir-blob", { mode: "40000" }),
    message: /path 'dir-blob' has new file mode '40000', which is not a file mode/,
  },
  {
    name: "a blob at zero-padded mode 040000",
    patch: add("dir-blob", { mode: "040000" }),
    message: /has new file mode 040000; only 100644, 100755, 120000 are allowed/,
  },
  {
    name: "a short mode 644",
    patch: add("short.txt", { mode: "644" }),
    message: /path 'short\.txt' has new file mode '644', which is not a file mode/,
  },
  {
    name: "a legacy group-writable mode 100664",
    patch: add("legacy.txt", { mode: "100664" }),
    message: /path 'legacy\.txt' has new file mode 100664; only 100644, 100755, 120000 are allowed/,
  },
  {
    name: "a submodule (gitlink) while submodules are off",
    patch: add("sub", { mode: "160000" }),
    message:
      /path 'sub' has new file mode 160000 \(a submodule\); Hyperion does not support submodules/,
  },
  {
    name: "a symlink mode with extra bits 120777",
    patch: add("link", { mode: "120777" }),
    message: /path 'link' has new file mode 120777; only/,
  },
  {
    name: "a seven-digit mode",
    patch: add("seven.txt", { mode: "1006440" }),
    message: /'1006440', which is not a file mode/,
  },
  {
    name: "a mode with a non-octal digit",
    patch: add("hex.txt", { mode: "10064a" }),
    message: /'10064a', which is not a file mode/,
  },
  {
    name: "a negative mode",
    patch: add("neg.txt", { mode: "-100644" }),
    message: /'-100644', which is not a file mode/,
  },
  {
    name: "a mode with a carriage return",
    patch: add("cr.txt", { mode: "100644\r" }),
    message: /'100644\\u000d', which is not a file mode/,
  },
  {
    name: "a mode with a leading space",
    patch: add("lead.txt", { mode: " 100644" }),
    message: /' 100644', which is not a file mode/,
  },
  {
    name: "an old mode of 40000 on a mode change",
    patch: "diff --git a/fixed.txt b/fixed.txt\nold mode 40000\nnew mode 100755\n",
    message: /path 'fixed\.txt' has old mode '40000', which is not a file mode/,
  },
  {
    name: "a new mode 100600 on a mode change",
    patch: "diff --git a/fixed.txt b/fixed.txt\nold mode 100644\nnew mode 100600\n",
    message: /has new mode 100600; only 100644, 100755, 120000 are allowed/,
  },
  {
    name: "a deleted file of mode 40000",
    patch: "diff --git a/docs b/docs\ndeleted file mode 40000\n",
    message: /path 'docs' has deleted file mode '40000'/,
  },
  {
    name: "a mode smuggled on the index line",
    patch: `diff --git a/fixed.txt b/fixed.txt\nindex ${"1".repeat(40)}..${"2".repeat(40)} 40000\n`,
    message: /path 'fixed\.txt' has mode '40000', which is not a file mode/,
  },
  {
    name: "a submodule mode on the index line",
    patch: `diff --git a/fixed.txt b/fixed.txt\nindex ${"1".repeat(40)}..${"2".repeat(40)} 160000\n`,
    message: /has mode 160000 \(a submodule\)/,
  },

  // Object types: an index line's object must be what the mode says.
  {
    name: "an index line naming a commit for a regular file",
    patch: async () =>
      `diff --git a/c.txt b/c.txt\nnew file mode 100644\nindex ${"0".repeat(40)}..${await tip()}\n`,
    message:
      /path 'c\.txt' has an index line naming [0-9a-f]{12}, a commit; mode 100644 needs a blob/,
  },
  {
    name: "an index line naming a tree for a regular file",
    patch: async () =>
      `diff --git a/t.txt b/t.txt\nnew file mode 100644\nindex ${"0".repeat(40)}..${await treeOf("main", target)}\n`,
    message:
      /path 't\.txt' has an index line naming [0-9a-f]{12}, a tree; mode 100644 needs a blob/,
  },
  {
    name: "an index line naming a commit for a symlink",
    patch: async () =>
      `diff --git a/l b/l\nnew file mode 120000\nindex ${"0".repeat(40)}..${await tip()}\n`,
    message: /path 'l' has an index line naming [0-9a-f]{12}, a commit; mode 120000 needs a blob/,
  },
  {
    name: "an index line naming a tree for an executable",
    patch: async () =>
      `diff --git a/x.sh b/x.sh\nnew file mode 100755\nindex ${"0".repeat(40)}..${await treeOf("main", target)}\n`,
    message: /a tree; mode 100755 needs a blob/,
  },

  // The one path rule: '.', '..', .git and every name that becomes .git somewhere.
  {
    name: "a '.' segment",
    patch: add("docs/./x.md"),
    message: /path 'docs\/\.\/x\.md' must not contain '\.' segments/,
  },
  {
    name: "a leading './'",
    patch: add("./docs/x.md"),
    message: /path '\.\/docs\/x\.md' must not contain '\.' segments/,
  },
  {
    name: "a '..' that leaves the repository",
    patch: add("../outside.txt"),
    message: /path '\.\.\/outside\.txt' must not contain '\.\.'/,
  },
  {
    name: "a '..' that climbs out of a subdirectory",
    patch: add("docs/../../canary/secret.txt"),
    message: /must not contain '\.\.'/,
  },
  {
    name: "a file inside .git",
    patch: add(".git/config"),
    message: /path '\.git\/config' must not be inside \.git/,
  },
  {
    name: "a hook in .GIT (case)",
    patch: add(".GIT/hooks/post-checkout"),
    message: /path '\.GIT\/hooks\/post-checkout' must not be inside \.git/,
  },
  { name: "a nested .Git", patch: add("sub/.Git/config"), message: /must not be inside \.git/ },
  {
    name: "'.git.' (NTFS trailing dot)",
    patch: add(".git./config"),
    message: /segment '\.git\.' looks like \.git \(trailing dot\)/,
  },
  {
    name: "'.git ' (NTFS trailing space)",
    patch: add(".git /config"),
    message: /segment '\.git ' looks like \.git \(trailing space\)/,
  },
  {
    name: "'.git. . .' (trailing dots and spaces)",
    patch: add(".git. . ./hooks/x"),
    message: /looks like \.git \(trailing dot\)/,
  },
  {
    name: "'GIT~1' (8.3 short name)",
    patch: add("GIT~1/config"),
    message: /segment 'GIT~1' looks like \.git \(8\.3 short name\)/,
  },
  {
    name: "'git~2' (another short name)",
    patch: add("git~2/hooks/pre-commit"),
    message: /segment 'git~2' looks like \.git \(8\.3 short name\)/,
  },
  {
    name: "'.git::$INDEX_ALLOCATION' (NTFS stream)",
    patch: add(".git::$INDEX_ALLOCATION/config"),
    message: /looks like \.git \(NTFS stream\)/,
  },
  {
    name: "'.git:x' (any NTFS stream of .git)",
    patch: add("a/.git:x"),
    message: /segment '\.git:x' looks like \.git \(NTFS stream\)/,
  },
  {
    name: "'.g\\u200Cit' (HFS+ zero-width non-joiner)",
    patch: add(".g\u200Cit/config"),
    message: /segment '\.g\\u200cit' looks like \.git \(ignorable Unicode code points\)/,
  },
  {
    name: "'.\\u200Dgit' (zero-width joiner)",
    patch: add(".\u200Dgit/config"),
    message: /looks like \.git \(ignorable Unicode code points\)/,
  },
  {
    name: "'.gi\\u200Et' (left-to-right mark)",
    patch: add(".gi\u200Et/config"),
    message: /looks like \.git/,
  },
  {
    name: "'.git\\uFEFF' (byte order mark)",
    patch: add(".git\uFEFF/config"),
    message: /looks like \.git/,
  },
  {
    name: "'\\u202E.git' (right-to-left override)",
    patch: add("\u202E.git/config"),
    message: /looks like \.git/,
  },
  {
    name: "'.GI\\u206At' (inhibit symmetric swapping)",
    patch: add(".GI\u206At/config"),
    message: /looks like \.git/,
  },
  {
    name: "'.. ' (a '..' with a trailing space)",
    patch: add(".. /canary/x"),
    message: /segment '\.\. ' looks like '\.\.' \(trailing dot or space\)/,
  },
  { name: "'...' (dots only)", patch: add(".../x"), message: /segment '\.\.\.' looks like '\.\.'/ },
  {
    name: "'.\\u200C.' (a '..' with an ignorable inside)",
    patch: add(".\u200C./x"),
    message: /looks like '\.\.' \(ignorable Unicode code points\)/,
  },
  { name: "a blank segment", patch: add("docs/   /x.md"), message: /segment ' {3}' is blank/ },
  {
    name: "an empty segment",
    patch: add("docs//x.md"),
    message: /path 'docs\/\/x\.md' must not contain empty segments/,
  },
  { name: "a trailing slash", patch: add("docs/x/"), message: /must not contain empty segments/ },
  {
    name: "an absolute path",
    patch: add("/etc/passwd"),
    message: /path '\/etc\/passwd' must be relative to the repository root, not absolute/,
  },
  {
    name: "a drive letter",
    patch: add("C:/Windows/x"),
    message: /must be relative to the repository root, not absolute/,
  },
  { name: "backslashes", patch: add("docs\\..\\..\\x"), message: /must use forward slashes/ },
  {
    name: "an escape sequence in a name",
    patch: add("docs/\u001b[31mred.md"),
    message: /path 'docs\/\\u001b\[31mred\.md' must not contain control characters \(U\+001B\)/,
  },
  {
    name: "a NUL in a quoted name",
    patch: add("docs/a\u0000b.md"),
    message: /must not contain a NUL byte/,
  },
  {
    name: "a DEL in a name",
    patch: add("docs/del\u007f.md"),
    message: /must not contain control characters \(U\+007F\)/,
  },
  {
    name: "a newline in a quoted name",
    patch: add("docs/a\nb.md"),
    message: /must not contain control characters \(U\+000A\)/,
  },
  {
    name: "a tab in a quoted name",
    patch: add("docs/a\tb.md"),
    message: /must not contain control characters \(U\+0009\)/,
  },
  {
    name: "a 256-byte component",
    patch: add(`docs/${longName}`),
    message: /component 'n{24}…' is 256 bytes; the limit is 255 bytes/,
  },
  {
    name: "a 300-byte component of 150 characters",
    patch: add(`docs/${"é".repeat(150)}`),
    message: /is 300 bytes; the limit is 255 bytes/,
  },
  {
    name: "a path over 4096 bytes",
    patch: add(Array.from({ length: 20 }, () => "d".repeat(250)).join("/")),
    message: /is 5019 bytes; the limit is 4096 bytes/,
  },

  // Names that disagree: the header, ---/+++ and rename/copy lines must name the same files.
  {
    name: "--- and +++ naming another file than the header",
    patch: mod({ minus: "a/other.txt", plus: "b/other.txt" }),
    message: /path 'fixed\.txt' is named 'other\.txt' by its '---' line/,
  },
  {
    name: "a benign header over ---/+++ into .git",
    patch: mod({ minus: "a/.git/config", plus: "b/.git/config" }),
    message: /path '\.git\/config' must not be inside \.git/,
  },
  {
    name: "a traversing header over benign ---/+++",
    patch: mod({ header: ["../../../outside/x", "../../../outside/x"] }),
    message: /path '\.\.\/\.\.\/\.\.\/outside\/x' must not contain '\.\.'/,
  },
  {
    name: "a header into .git over benign ---/+++",
    patch: mod({ header: [".git/config", ".git/config"] }),
    message: /path '\.git\/config' must not be inside \.git/,
  },
  {
    name: "a +++ line alone naming another file",
    patch: mod({ plus: "b/elsewhere.txt" }),
    message: /is named 'elsewhere\.txt' by its '\+\+\+' line/,
  },
  {
    name: "a header naming two files without a rename",
    patch: mod({ header: ["fixed.txt", "copy.txt"], plus: "b/copy.txt" }),
    message:
      /path 'copy\.txt' is named 'fixed\.txt' on the old side without a 'rename' or 'copy' line/,
  },
  {
    name: "rename lines that disagree with the header",
    patch:
      "diff --git a/fixed.txt b/moved.txt\nsimilarity index 100%\nrename from fixed.txt\nrename to .git/hooks/pre-commit\n",
    message: /path '\.git\/hooks\/pre-commit' must not be inside \.git/,
  },
  {
    name: "a rename source other than the header's",
    patch:
      "diff --git a/fixed.txt b/moved.txt\nsimilarity index 100%\nrename from src/a.txt\nrename to moved.txt\n",
    message: /path 'fixed\.txt' is named 'src\/a\.txt' by its 'rename from' line/,
  },
  {
    name: "a copy target other than the header's",
    patch:
      "diff --git a/fixed.txt b/copy.txt\nsimilarity index 100%\ncopy from fixed.txt\ncopy to elsewhere.txt\n",
    message: /path 'copy\.txt' is named 'elsewhere\.txt' by its 'copy to' line/,
  },
  {
    name: "a rename without its target",
    patch: "diff --git a/fixed.txt b/moved.txt\nsimilarity index 100%\nrename from fixed.txt\n",
    message: /has only one of 'rename from' and 'rename to'/,
  },
  {
    name: "a rename and a copy at once",
    patch:
      "diff --git a/fixed.txt b/moved.txt\nrename from fixed.txt\nrename to moved.txt\ncopy from fixed.txt\ncopy to moved.txt\n",
    message: /is both renamed and copied/,
  },
  {
    name: "'--- /dev/null' on a file that is not new",
    patch: mod({ minus: "/dev/null" }),
    message: /path 'fixed\.txt' has '--- \/dev\/null' but is not a new file/,
  },
  {
    name: "'+++ /dev/null' on a file that is not deleted",
    patch: mod({ plus: "/dev/null" }),
    message: /has '\+\+\+ \/dev\/null' but is not a deleted file/,
  },
  {
    name: "a quoted header whose octal escape hides a '..'",
    patch: `diff --git "a/..\\057x" "b/..\\057x"\nnew file mode 100644\n`,
    message: /path '\.\.\/x' must not contain '\.\.'/,
  },
  {
    name: "a quoted header over an unquoted --- that differs",
    patch: `diff --git "a/caf\\303\\251.md" "b/caf\\303\\251.md"\n--- a/cafe.md\n+++ "b/caf\\303\\251.md"\n@@ -1 +1 @@\n-x\n+y\n`,
    message: /path 'café\.md' is named 'cafe\.md' by its '---' line/,
  },
  {
    name: "a quoted name that is not UTF-8",
    patch: `diff --git "a/\\377.md" "b/\\377.md"\nnew file mode 100644\n`,
    message: /malformed quoted file name/,
  },
  {
    name: "a header without the a/ prefix",
    patch: "diff --git fixed.txt fixed.txt\nold mode 100644\nnew mode 100755\n",
    message: /cannot tell the file names/,
  },
  {
    name: "an unterminated quoted name",
    patch: `diff --git "a/x b/x\nnew file mode 100644\n`,
    message: /malformed diff header/,
  },
  {
    name: "a stray +++ line after the hunks",
    patch: `${mod().trimEnd()}\n+++ b/.git/config\n`,
    message: /path 'fixed\.txt': unexpected line after the hunks: '\+\+\+ b\/\.git\/config'/,
  },
  {
    name: "an unknown line in the diff header",
    patch: "diff --git a/fixed.txt b/fixed.txt\nx-evil: 1\n",
    message: /path 'fixed\.txt': unexpected line in the diff header: 'x-evil: 1'/,
  },
  {
    name: "a line that is not base85 in a binary patch",
    patch:
      "diff --git a/b.bin b/b.bin\nnew file mode 100644\nindex 0000000000000000000000000000000000000000..1111111111111111111111111111111111111111\nGIT binary patch\nliteral 3\n+++ b/.git/config\n\nliteral 0\n",
    message: /malformed binary patch line/,
  },

  // Symlinks, files and directories in one patch.
  {
    name: "a symlink and a write through it in one patch",
    patch: patchOf(
      add("ln", { mode: "120000", body: ["../canary"] }).replace(
        "+../canary\n",
        "+../canary\n\\ No newline at end of file\n",
      ),
      add("ln/pwned.txt"),
    ),
    message: /path 'ln\/pwned\.txt' is written through the symlink 'ln' this patch creates/,
  },
  {
    name: "a write through the symlink already in the tree",
    patch: add("escape/pwned.txt"),
    message: /path 'escape\/pwned\.txt' goes through the symlink 'escape'/,
  },
  {
    name: "a write under an existing regular file",
    patch: add("docs/guide.md/x"),
    message: /path 'docs\/guide\.md\/x' goes through 'docs\/guide\.md', which is a file/,
  },
  {
    name: "a path that is both a file and a directory",
    patch: patchOf(add("both"), add("both/inner.txt")),
    message: /path 'both' is both a file and a directory in this patch/,
  },
  {
    name: "the same path written twice",
    patch: patchOf(add("twice.txt"), add("twice.txt", { body: ["y"] })),
    message: /path 'twice\.txt' is written twice in one patch/,
  },
  {
    name: "a path changed and deleted in one patch",
    patch: patchOf(mod(), "diff --git a/fixed.txt b/fixed.txt\ndeleted file mode 100644\n"),
    message: /path 'fixed\.txt' is changed twice in one patch/,
  },
  {
    name: "a directory renamed as if it were a file",
    patch: "diff --git a/docs b/docs2\nsimilarity index 100%\nrename from docs\nrename to docs2\n",
    message: /path 'docs' is a directory, not a file/,
  },
  {
    name: "a directory deleted as if it were a file",
    patch: "diff --git a/docs b/docs\ndeleted file mode 100644\n",
    message: /path 'docs' is a directory, not a file/,
  },
  {
    name: ".gitmodules as a symlink",
    patch: add(".gitmodules", { mode: "120000", body: ["/etc/passwd"] }),
    message: /path '\.gitmodules' would make \.gitmodules a symlink/,
  },
  {
    name: ".gitattributes as a symlink",
    patch: add("sub/.gitattributes", { mode: "120000", body: ["../x"] }),
    message: /would make \.gitattributes a symlink/,
  },
  {
    name: ".GITIGNORE as a symlink (case)",
    patch: add(".GITIGNORE", { mode: "120000", body: ["x"] }),
    message: /would make \.gitignore a symlink/,
  },
  {
    name: ".gitmodules written while submodules are off",
    patch: add(".gitmodules", { body: ['[submodule "x"]', "\turl = -oProxyCommand=evil"] }),
    message: /path '\.gitmodules' configures submodules; Hyperion does not support submodules/,
  },
  {
    name: "'gitmod~1' (.gitmodules by its short name)",
    patch: add("GITMOD~1", { body: ['[submodule "x"]'] }),
    message: /configures submodules/,
  },

  // Limits: nothing a patch says can make parsing or applying unbounded.
  {
    name: "a hunk at line 100000000000000",
    patch: mod({ hunk: "@@ -100000000000000,1 +100000000000000,2 @@" }),
    message: new RegExp(
      `path 'fixed\\.txt': hunk header .* names line 100000000000000; the limit is ${MAX_LINE_NUMBER}`,
    ),
  },
  {
    name: "a hunk count of 2^53",
    patch: mod({ hunk: "@@ -1,9007199254740993 +1,2 @@" }),
    message: /names line 9007199254740993; the limit is 10000000/,
  },
  {
    name: "a hunk one line past the limit",
    patch: mod({ hunk: `@@ -${MAX_LINE_NUMBER + 1},1 +1,2 @@` }),
    message: /names line 10000001; the limit is 10000000/,
  },
  {
    name: "a forty-digit line number",
    patch: mod({ hunk: `@@ -1,1 +${"9".repeat(40)},2 @@` }),
    message: /names line 9{20}…; the limit is 10000000/,
  },
  {
    name: "more files than the limit",
    patch: () => Array.from({ length: MAX_PATCH_FILES + 1 }, (_, i) => add(`many/f${i}`)).join(""),
    message: new RegExp(
      `has more than ${MAX_PATCH_FILES} files; the limit is ${MAX_PATCH_FILES} files per patch`,
    ),
  },
  {
    name: "more hunks in one file than the limit",
    patch: () =>
      [
        "diff --git a/fixed.txt b/fixed.txt",
        "--- a/fixed.txt",
        "+++ b/fixed.txt",
        ...Array.from({ length: MAX_HUNKS_PER_FILE + 1 }, () => "@@ -1,0 +1,1 @@\n+x"),
      ].join("\n"),
    message: new RegExp(
      `path 'fixed\\.txt' has more than ${MAX_HUNKS_PER_FILE} hunks; the limit is ${MAX_HUNKS_PER_FILE} hunks per file`,
    ),
  },
  {
    name: "more hunk lines than the limit",
    patch: () =>
      add("huge.txt", { body: Array.from({ length: MAX_PATCH_HUNK_LINES + 1 }, () => "x") }),
    message: new RegExp(
      `has more than ${MAX_PATCH_HUNK_LINES} hunk lines; the limit is ${MAX_PATCH_HUNK_LINES} per patch`,
    ),
  },
  {
    name: "a hunk shorter than its header says",
    patch: mod({ hunk: "@@ -1 +1,3 @@" }),
    message: /path 'fixed\.txt': truncated hunk/,
  },
  {
    name: "a malformed hunk header",
    patch: mod({ hunk: "@@ -one +two @@" }),
    message: /path 'fixed\.txt': malformed hunk header '@@ -one \+two @@'/,
  },

  // Branch names: what `git check-ref-format --branch` refuses never becomes a ref path.
  ...(
    [
      ["../../config", /must not contain '\.\.'/],
      ["main.lock", /component 'main\.lock' must not end with '\.lock'/],
      ["feature/", /must not end with '\/'/],
      [".", /component '\.' must not start with '\.'/],
      ["a/.hidden", /component '\.hidden' must not start with '\.'/],
      ["HEAD", /must not be 'HEAD'/],
      ["-delete", /must not start with '-'/],
      ["@", /must not be '@'/],
      ["a@{1}", /must not contain '@\{'/],
      ["a//b", /must not contain '\/\/'/],
      ["/abs", /must not contain '\/\/'/],
      ["ends.", /must not end with '\.'/],
      ["with space", /must not contain spaces/],
      ["tilde~1", /must not contain '~'/],
      ["caret^", /must not contain '\^'/],
      ["co:lon", /must not contain ':'/],
      ["glob*", /must not contain '\*'/],
      ["br[acket", /must not contain '\['/],
      ["back\\slash", /must not contain '\\'/],
      ["bell\u0007", /must not contain control characters \(U\+0007\)/],
      ["x".repeat(201), /is 201 bytes; the limit is 200 bytes/],
    ] as const
  ).map(([branch, message]) => ({
    name: `the branch name ${JSON.stringify(branch.length > 40 ? `${branch.slice(0, 10)}…` : branch)}`,
    patch: mod(),
    extra: { targetBranch: branch },
    field: "targetBranch",
    message,
  })),
];

describe("hostile change requests are refused at submission, and nothing is queued", () => {
  it.each(refusals.map((r) => [r.name, r] as const))("%s", async (_name, r) => {
    const before = [await count("change_requests"), await count("queue_entries")];
    const patch = typeof r.patch === "function" ? await r.patch() : r.patch;
    const err = await submitChanges(
      world.db,
      { repo: "t", patch, summary: "hostile", author, ...r.extra },
      config,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    const issues = (err as ValidationError).issues;
    expect(issues).toContainEqual({
      path: r.field ?? "patch",
      message: expect.stringMatching(r.message),
    });
    expect([await count("change_requests"), await count("queue_entries")]).toEqual(before);
  });
});

// ---- Accepted: the rules above must not refuse ordinary work ----

type Accepted = { name: string; edit: (dir: string) => void | Promise<void>; summary?: string };

const accepted: Accepted[] = [
  {
    name: "a modified file",
    edit: (d) => write(d, { "src/a.txt": lines(30, "a").replace("a 7\n", "seven\n") }),
  },
  {
    name: "a new file in a new directory",
    edit: (d) => write(d, { "new/dir/file.txt": "hello\n" }),
  },
  { name: "a deleted file", edit: (d) => fs.rmSync(path.join(d, "bin/run.sh")) },
  {
    name: "a renamed file",
    edit: (d) => fs.renameSync(path.join(d, "src/a.txt"), path.join(d, "src/renamed.txt")),
  },
  {
    name: "a symlink inside the repository",
    edit: (d) => {
      fs.mkdirSync(path.join(d, "links"), { recursive: true });
      fs.symlinkSync("../docs/guide.md", path.join(d, "links/guide"));
    },
  },
  { name: "an executable bit", edit: (d) => fs.chmodSync(path.join(d, "docs/guide.md"), 0o755) },
  { name: "a unicode name café.md", edit: (d) => write(d, { "café.md": "crème\n" }) },
  { name: "CJK and emoji names", edit: (d) => write(d, { "文档/说明 🚀.md": "ok\n" }) },
  { name: "names with spaces", edit: (d) => write(d, { "dir x/a b.txt": "spaced\n" }) },
  {
    name: "names that start like .git",
    edit: (d) =>
      write(d, {
        ".github/workflows/ci.yml": "on: push\n",
        ".gitignore": "node_modules\n",
        ".git.bak/notes": "n\n",
        ".gitkeep": "",
      }),
  },
  {
    name: "an ordinary .gitattributes",
    edit: (d) => write(d, { ".gitattributes": "*.bin binary\n" }),
  },
  {
    name: "dots inside names",
    edit: (d) => write(d, { "a..b.txt": "dots\n", "v1.2.3/x.y": "v\n" }),
  },
  {
    name: "a binary file",
    edit: (d) => write(d, { "img/new.bin": Buffer.from([0, 159, 146, 150, 0, 1]) }),
  },
  {
    name: "a file replaced by a directory of the same name",
    edit: (d) => {
      fs.rmSync(path.join(d, "img/logo.bin"));
      write(d, { "img/logo.bin/readme.txt": "now a dir\n" });
    },
  },
  { name: "a 255-byte component", edit: (d) => write(d, { [`long/${"L".repeat(255)}`]: "max\n" }) },
  {
    name: "a hunk far into a big file",
    edit: (d) => write(d, { "big.txt": lines(5000, "big").replace("big 4990\n", "changed\n") }),
  },
  {
    name: "a summary with control characters",
    summary: "fix\u0000 the\u001b[2J title\r\nsecond line\u0007",
    edit: (d) => write(d, { "docs/guide.md": "# Guide\nsummary\n" }),
  },
];

describe("ordinary changes still land", () => {
  it.each(accepted.map((a) => [a.name, a] as const))("%s", async (_name, a) => {
    const { patch, after } = await repo.change(a.edit);
    const [sub] = await submitChanges(
      world.db,
      { repo: "t", patch, summary: a.summary ?? a.name, author },
      config,
    );
    await drain();
    const entry = await getEntry(world.db, sub?.entryId ?? 0);
    expect(entry?.lastError ?? null).toBeNull();
    expect(entry?.state).toBe("merged");
    expect(await treeOf("main", target)).toBe(await treeOf(after, repo.work));
    // The checked-out worktree followed: nothing left over, nothing missing.
    expect(await git(["status", "--porcelain"], { cwd: target })).toBe("");
  });

  it("the landed commit message holds no control characters", async () => {
    const message = await git(["log", "-1", "--format=%B", "main"], { cwd: target });
    expect(message).toMatch(/^fix the\[2J title\nsecond line\n/);
    expect([...message].filter((c) => isControl(c) && c !== "\n")).toEqual([]);
  });
});

// ---- Only detectable at landing ----

describe("what only landing can see fails the entry with a clear message", () => {
  async function landOne(patch: string) {
    const before = await tip();
    const [sub] = await submitChanges(
      world.db,
      { repo: "t", patch, summary: "late", author },
      config,
      { maxAttempts: 1 },
    );
    await drain();
    return { entry: await getEntry(world.db, sub?.entryId ?? 0), moved: (await tip()) !== before };
  }

  it("a hunk at line 9 999 999 of a one-line file is a conflict naming the path", async () => {
    const patch = mod({ hunk: "@@ -9999999,1 +9999999,2 @@" }).replace(" fixed\n", " absent\n");
    const { entry, moved } = await landOne(patch);
    expect(entry?.state).toBe("quarantined");
    expect(entry?.lastError).toMatchObject({ kind: "conflict", paths: ["fixed.txt"] });
    expect(entry?.lastError?.message).toMatch(/patch does not apply to fixed\.txt/);
    expect(moved).toBe(false);
  });

  it("a hunk whose context is nowhere in a big file is a conflict naming the path", async () => {
    const patch = [
      "diff --git a/big.txt b/big.txt",
      "--- a/big.txt",
      "+++ b/big.txt",
      `@@ -${MAX_LINE_NUMBER},3 +${MAX_LINE_NUMBER},4 @@`,
      " not there",
      " nor here",
      "+new",
      " nowhere",
      "",
    ].join("\n");
    const { entry, moved } = await landOne(patch);
    expect(entry?.state).toBe("quarantined");
    expect(entry?.lastError?.message).toMatch(/patch does not apply to big\.txt/);
    expect(moved).toBe(false);
  });

  it("a write under a symlink that landed after the write was submitted", async () => {
    const link = await repo.change((d) => fs.symlinkSync("../canary", path.join(d, "later")));
    const [first] = await submitChanges(
      world.db,
      { repo: "t", patch: link.patch, summary: "a link", author },
      config,
    );
    const [second] = await submitChanges(
      world.db,
      { repo: "t", patch: add("later/pwned.txt"), summary: "through it", author },
      config,
      { maxAttempts: 1 },
    );
    await drain();
    expect((await getEntry(world.db, first?.entryId ?? 0))?.state).toBe("merged");
    const entry = await getEntry(world.db, second?.entryId ?? 0);
    expect(entry?.state).toBe("quarantined");
    expect(entry?.lastError?.message).toBe(
      "later/pwned.txt goes through 'later', which is a symlink in the target tree",
    );
  });

  it("a .gitattributes line git cannot read (fsck --strict would flag it) is quarantined", async () => {
    const { entry, moved } = await landOne(
      add("attrs/.gitattributes", { body: [`${"a".repeat(3000)} text`] }),
    );
    expect(entry?.state).toBe("quarantined");
    expect(entry?.lastError).toMatchObject({ kind: "apply_failed" });
    expect(entry?.lastError?.message).toBe(
      "path 'attrs/.gitattributes' line 1 is 3005 bytes; git ignores .gitattributes lines of 2048 bytes or more",
    );
    expect(moved).toBe(false);
  });

  it("a queued row from before these rules, with a patch into .git, is quarantined", async () => {
    const [sub] = await submitChanges(
      world.db,
      { repo: "t", patch: mod(), summary: "row", author },
      config,
      { maxAttempts: 1 },
    );
    await world.db
      .update(changeRequests)
      .set({
        patch: add(".git/hooks/post-checkout", { body: ["#!/bin/sh", "touch ../canary/pwned"] }),
      })
      .where(eq(changeRequests.id, sub?.id ?? 0));
    await drain();
    const entry = await getEntry(world.db, sub?.entryId ?? 0);
    expect(entry?.state).toBe("quarantined");
    expect(entry?.lastError).toMatchObject({ kind: "apply_failed" });
    expect(entry?.lastError?.message).toMatch(
      /path '\.git\/hooks\/post-checkout' must not be inside \.git/,
    );
  });

  it("a queued row from before these rules, with a branch that climbs out of refs/, is refused", async () => {
    const [sub] = await submitChanges(
      world.db,
      { repo: "t", patch: add("branchy.txt"), summary: "row", author },
      config,
      { maxAttempts: 1 },
    );
    await world.db
      .update(queueEntries)
      .set({ targetBranch: "../../../canary/ref" })
      .where(eq(queueEntries.id, sub?.entryId ?? 0));
    await drain();
    const entry = await getEntry(world.db, sub?.entryId ?? 0);
    expect(entry?.state).toBe("quarantined");
    expect(entry?.lastError?.message).toMatch(
      /'refs\/heads\/\.\.\/\.\.\/\.\.\/canary\/ref' is not a valid ref name: must not contain '\.\.'/,
    );
  });
});

describe("after every hostile case", () => {
  it("every target repository passes git fsck --strict", async () => {
    for (const dir of [target, repo.bare]) {
      await expect(git(["fsck", "--strict", "--no-dangling"], { cwd: dir })).resolves.toBeDefined();
    }
  });

  it("the canary folder beside the repository is unchanged", () => {
    expect(snapshot(canary)).toBe(canaryBefore);
  });
});

// ---- A worktree that cannot be written never blocks the queue ----

describe("a failed worktree update", () => {
  it("is a warning on its entry, leaves a marker, and later landings go on until it is repaired", async () => {
    const w = await makeWorld();
    const pair = await makeRepoPair({ "a.txt": "a\n" });
    try {
      const checkout = path.join(pair.root, "checkout");
      await git(["clone", "-q", pair.bare, checkout], { cwd: pair.root });
      const cfg: LoadedConfig = {
        file: "t",
        repositories: [{ name: "w", path: checkout, targetBranch: "main" }],
      };
      const land = async (edit: (d: string) => void) => {
        const { patch } = await pair.change(edit);
        const [sub] = await submitChanges(w.db, { repo: "w", patch, summary: "s", author }, cfg);
        await runQueueLoop({
          db: w.db,
          config: () => cfg,
          owner: "wt",
          opts: {
            ...defaultLoopOptions({}),
            backoffBaseMs: 0,
            backoffMaxMs: 0,
            pollMs: 5,
            drain: true,
          },
          shouldStop: () => false,
        });
        const entry = await getEntry(w.db, sub?.entryId ?? 0);
        const [last] = await w.db
          .select({ event: changeQueueLogs.event })
          .from(changeQueueLogs)
          .where(eq(changeQueueLogs.entryId, entry?.id ?? 0))
          .orderBy(desc(changeQueueLogs.id))
          .limit(1);
        const warning = last?.event.warning ?? null;
        return { state: entry?.state, warning };
      };
      const marker = path.join(checkout, ".git", STALE_WORKTREE_MARKER);

      // An untracked file where the landed change needs a directory: git cannot update it.
      fs.writeFileSync(path.join(checkout, "newdir"), "in the way\n");
      const first = await land((d) => write(d, { "newdir/file.txt": "f\n" }));
      expect(first.state).toBe("merged");
      expect(first.warning).toMatch(/could not be updated/);
      expect(first.warning).toContain(`git -C ${checkout} reset --hard`);
      expect(JSON.parse(fs.readFileSync(marker, "utf8"))).toMatchObject({
        commit: await tip(checkout),
        error: expect.stringMatching(/newdir/),
      });

      // The worktree differs from HEAD now; that is not a reason to refuse the next change.
      const second = await land((d) => write(d, { "b.txt": "b\n" }));
      expect(second.state).toBe("merged");
      expect(second.warning).toMatch(/was not updated: it has been stale/);
      expect(fs.existsSync(path.join(checkout, "b.txt"))).toBe(false);

      // The operator repairs it; the marker goes and landings keep the worktree in step again.
      fs.rmSync(path.join(checkout, "newdir"));
      await git(["reset", "-q", "--hard"], { cwd: checkout });
      const third = await land((d) => write(d, { "c.txt": "c\n" }));
      expect(third).toEqual({ state: "merged", warning: null });
      expect(fs.existsSync(marker)).toBe(false);
      expect(fs.readFileSync(path.join(checkout, "c.txt"), "utf8")).toBe("c\n");
      expect(await git(["status", "--porcelain"], { cwd: checkout })).toBe("");
    } finally {
      await w.cleanup();
      pair.cleanup();
    }
  });
});
