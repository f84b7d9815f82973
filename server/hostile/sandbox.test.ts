import { createHash } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detectSandbox } from "@/server/confine/detect";
import { sandboxUser } from "@/server/confine/identity";
import { sanitizeKept } from "@/server/confine/kept";
import { type RunLimits, RunLimits as RunLimitsSchema } from "@/server/confine/limits";
import { program } from "@/server/confine/programs";
import { makeRunDir, removeRunDir, runConfined } from "@/server/confine/run";
import { spawnConfined } from "@/server/confine/spawn";
import { git } from "@/server/git/run";
import { tempDir } from "@/test-support/fixtures";

/**
 * The hostile agent's cases of issue 17, each run through both ways Hyperion starts a child for
 * a repository: a check (runConfined) and an agent session (spawnConfined, what every agent
 * harness uses). Each case also shows that nothing on the host changed and no process is left.
 */

// The data folder outside the temp folder where it can be (the checkout), so it is hidden by
// name; run as an ordinary user who cannot write there, in the temp folder.
const data = (() => {
  try {
    return fs.mkdtempSync(path.join(process.cwd(), ".sandbox-test-data-"));
  } catch {
    return tempDir("hyperion-sandbox-test-data-");
  }
})();
const canary = tempDir("hyperion-canary-");
const saved = { ...process.env };
const uid = sandboxUser().uid;

function snapshot(dir: string): string {
  const h = createHash("sha256");
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      h.update(`${p} ${st.mode} ${st.uid} ${st.size}\n`);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) h.update(fs.readFileSync(p));
    }
  };
  walk(dir);
  return h.digest("hex");
}

let before: { canary: string; data: string };

beforeAll(() => {
  fs.writeFileSync(path.join(data, "hyperion.db"), "not for agents");
  fs.writeFileSync(path.join(canary, "keep.txt"), "unchanged");
  process.env.HYPERION_DATA = data;
  process.env.NEXTAUTH_SECRET = "nextauth-secret-value";
  before = { canary: snapshot(canary), data: snapshot(data) };
});

afterAll(() => {
  process.env = saved;
  fs.rmSync(data, { recursive: true, force: true });
  fs.rmSync(canary, { recursive: true, force: true });
});

/** The run folders this file made: its children are told apart by them from other suites'. */
const mine = new Set<string>();

/** Whether a process belongs to one of this file's runs: its command line or folder names one. */
function ofMyRuns(pid: string): boolean {
  let where = "";
  try {
    where = fs.readlinkSync(`/proc/${pid}/cwd`);
  } catch {}
  const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
  return [...mine].some((root) => cmdline.includes(root) || where.startsWith(root));
}

/**
 * Processes of the sandbox user still running on the host from this file's runs (none may
 * outlive its run; another suite running at the same time has its own). A zombie runs nothing
 * and holds no memory: it waits for the host's init to reap it, so it is not one.
 */
function leftovers(): string[] {
  if (uid === (process.getuid?.() ?? -1)) return [];
  return fs
    .readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        const status = fs.readFileSync(`/proc/${p}/status`, "utf8");
        const real = /^Uid:\s+(\d+)/m.exec(status)?.[1];
        const state = /^State:\s+(\w)/m.exec(status)?.[1];
        return Number(real) === uid && state !== "Z" && ofMyRuns(p)
          ? [`${p} ${fs.readFileSync(`/proc/${p}/cmdline`, "utf8")}`]
          : [];
      } catch {
        return [];
      }
    });
}

type Outcome = { output: string; exitCode: number | null; limitExceeded: string | null };
type Way = "check" | "agent";

async function confined(
  way: Way,
  script: string,
  opts: { limits?: Partial<RunLimits>; timeoutMs?: number; keep?: (work: string) => void } = {},
): Promise<Outcome> {
  const dir = makeRunDir(`hyperion-hostile-${way}-`);
  mine.add(dir.root);
  const limits = RunLimitsSchema.parse(opts.limits ?? {});
  const argv = [program("sh"), "-c", script];
  try {
    if (way === "check") {
      const res = await runConfined({ argv, dir, timeoutMs: opts.timeoutMs ?? 120_000, limits });
      opts.keep?.(dir.work);
      return {
        output: res.output,
        exitCode: res.exitCode,
        limitExceeded: res.limitExceeded ?? null,
      };
    }
    const proc = await spawnConfined({ argv, dir, limits, stopStepMs: 200 });
    if ("spawnError" in proc) throw new Error(proc.spawnError);
    let output = "";
    proc.child.stdout?.on("data", (c: Buffer) => {
      output = (output + c.toString()).slice(-200_000);
    });
    proc.child.stderr?.on("data", (c: Buffer) => {
      output = (output + c.toString()).slice(-200_000);
    });
    const exit = await proc.exited;
    opts.keep?.(dir.work);
    return { output, exitCode: exit.exitCode, limitExceeded: proc.limitExceeded() };
  } finally {
    removeRunDir(dir);
  }
}

const ways: Way[] = ["check", "agent"];

describe.runIf(detectSandbox().kind === "bwrap")(
  "a hostile child, as a check and as an agent",
  () => {
    describe.each(ways)("%s", (way) => {
      it("is no one inside: uid not 0, no capability, no_new_privs", async () => {
        const r = await confined(
          way,
          "grep -E '^(Uid|Gid|CapEff|CapPrm|NoNewPrivs):' /proc/self/status; id -u",
        );
        expect(r.output).toMatch(/^CapEff:\s+0+$/m);
        expect(r.output).toMatch(/^CapPrm:\s+0+$/m);
        expect(r.output).toMatch(/^NoNewPrivs:\s+1$/m);
        const ids = /^Uid:\s+(.*)$/m.exec(r.output)?.[1]?.split(/\s+/) ?? ["missing"];
        expect(ids).not.toContain("0");
        expect(r.output).not.toMatch(/^0$/m);
      });

      it("cannot umount, remount or unshare", async () => {
        const r = await confined(
          way,
          [
            "umount /etc/passwd && echo UMOUNTED",
            "umount /usr && echo UMOUNTED",
            "mount -o remount,bind,rw /usr && echo REMOUNTED",
            "mount -o remount,bind,rw / && echo REMOUNTED",
            "mount -t tmpfs none /usr/local && echo MOUNTED",
            "unshare -U true && echo UNSHARED",
            "unshare -Ur true && echo UNSHARED",
            "unshare -m true && echo UNSHARED",
            "unshare -n true && echo UNSHARED",
            "echo finished",
          ].join("; "),
        );
        expect(r.output).toContain("finished");
        expect(r.output).not.toMatch(/UMOUNTED|REMOUNTED|MOUNTED|UNSHARED/);
      });

      it("finds no host secret: /etc/shadow, /etc/ssh, sudoers, /root, the data folder", async () => {
        const r = await confined(
          way,
          `for f in /etc/shadow /etc/gshadow /etc/ssh /etc/sudoers /root /home ${data}; do if [ -e "$f" ]; then echo "PRESENT $f"; fi; done; env; echo finished`,
        );
        expect(r.output).toContain("finished");
        expect(r.output).not.toContain("PRESENT");
        expect(r.output).not.toContain("nextauth-secret-value");
      });

      it("cannot write into any folder it can see, only its workspace, home and /tmp", async () => {
        // Every directory on every mount but /proc, /dev and the run's own folder, tried for a write.
        const perl = `
        use File::Find;
        my @writable;
        find({ no_chdir => 1, wanted => sub {
          return unless -d $_;
          if ($_ =~ m{^/(proc|dev)(/|$)}) { $File::Find::prune = 1; return; }
          my $f = "$_/.hyperion-write-probe";
          if (open(my $fh, ">", $f)) { close $fh; unlink $f; push @writable, $_; }
        }}, "/");
        print "WRITABLE $_\\n" for @writable;
        print "walked\\n";`;
        const r = await confined(way, `perl -e '${perl.replaceAll("'", "'\\''")}'`);
        expect(r.output).toContain("walked");
        const writable = [...r.output.matchAll(/^WRITABLE (.*)$/gm)].map((m) => m[1] as string);
        expect(writable.length).toBeGreaterThan(0);
        // The run's own folder, and the private /tmp it is mounted in (a tmpfs of the sandbox).
        const allowed = (d: string) =>
          d === "/tmp" || /^\/tmp\/hyperion-hostile-(check|agent)-[^/]+(\/|$)/.test(d);
        expect(writable.filter((d) => !allowed(d))).toEqual([]);
        expect(writable).toContain("/tmp");
      });

      it("has no network: only a loopback of its own, no host listener reachable", async () => {
        const server = net.createServer((c) => c.end("canary listener"));
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as net.AddressInfo).port;
        try {
          const r = await confined(
            way,
            `cat /proc/net/dev; node -e "require('net').connect(${port}, '127.0.0.1').on('data', d => console.log(String(d))).on('error', e => console.log('ERR', e.code))"; grep -c ':' /proc/net/tcp`,
          );
          expect(r.output).not.toContain("canary listener");
          expect(r.output).toContain("ERR ECONNREFUSED");
          const interfaces = [...r.output.matchAll(/^\s*([\w.-]+):\s+\d/gm)].map((m) => m[1]);
          expect(interfaces).toEqual(["lo"]);
        } finally {
          server.close();
        }
      });

      it("is stopped at the process limit, named: 2 000 forks", async () => {
        const r = await confined(
          way,
          `perl -e 'for (1..2000) { my $p = fork(); last unless defined $p; if ($p == 0) { sleep 60; exit 0 } } sleep 60'`,
          { limits: { processes: 64 } },
        );
        expect(r.limitExceeded).toBe("started more than 64 processes (runLimits.processes)");
      });

      it("is stopped at the memory limit, named: 8 GiB", async () => {
        const r = await confined(
          way,
          `python3 -c "b = bytearray(b'x') * (8 << 30); print(len(b))"`,
          {
            limits: { memoryBytes: 256 * 1024 ** 2 },
          },
        );
        expect(r.output).not.toContain(String(8 << 30));
        // Under rlimits a single allocation past the budget fails in the program itself.
        if (r.limitExceeded !== null || process.getuid?.() === 0)
          expect(r.limitExceeded).toBe("used more than 256 MiB of memory (runLimits.memoryBytes)");
      });

      it("is stopped at the disk limit, named: 5 GB written", async () => {
        const r = await confined(way, "head -c 5000000000 /dev/zero > big; echo wrote", {
          limits: { diskBytes: 64 * 1024 ** 2 },
        });
        expect(r.limitExceeded).toBe(
          "wrote more than 64 MiB to its workspace (runLimits.diskBytes)",
        );
      });

      it("has a /tmp of the size the policy gives", async () => {
        const r = await confined(
          way,
          "head -c 50000000 /dev/zero > /tmp/fill; echo status=$?; df -B1 /tmp | tail -1",
          {
            limits: { tmpBytes: 8 * 1024 ** 2 },
          },
        );
        expect(r.output).toMatch(/No space left on device/);
        expect(r.output).toMatch(/\s8388608\s/);
      });

      it("keeps no setuid or setgid bit in a workspace Hyperion keeps", async () => {
        let found: { cleared: number; bits: number } = { cleared: -1, bits: -1 };
        await confined(way, "cp /bin/sh ./sh && chmod 6755 ./sh && ls -l sh", {
          keep: (work) => {
            const { cleared } = sanitizeKept(work);
            found = { cleared, bits: fs.statSync(path.join(work, "sh")).mode & 0o6000 };
          },
        });
        expect(found).toEqual({ cleared: 1, bits: 0 });
      });

      it("left nothing running and changed nothing on the host", () => {
        expect(leftovers()).toEqual([]);
        expect(snapshot(canary)).toBe(before.canary);
        expect(snapshot(data)).toBe(before.data);
      });
    });

    it("runs concurrently with limits of its own: one run's fork bomb leaves another's forks alone", async () => {
      const [bomb, calm] = await Promise.all([
        confined(
          "agent",
          `perl -e 'for (1..2000) { my $p = fork(); last unless defined $p; if ($p == 0) { sleep 60; exit 0 } } sleep 60'`,
          { limits: { processes: 64 } },
        ),
        confined(
          "check",
          `perl -e 'my $n = 0; for (1..40) { my $p = fork(); last unless defined $p; if ($p == 0) { sleep 2; exit 0 } $n++ } print "forked $n\\n"; wait() for 1..$n'`,
          { limits: { processes: 64 } },
        ),
      ]);
      expect(bomb.limitExceeded).toContain("processes");
      expect(calm.output).toContain("forked 40");
      expect(calm.limitExceeded).toBeNull();
    });
  },
);

describe("Hyperion's own programs", () => {
  it("never runs a git planted on PATH, in the workspace or in a writable folder", async () => {
    const plant = tempDir("hyperion-plant-");
    const marker = path.join(plant, "planted-ran");
    fs.writeFileSync(path.join(plant, "git"), `#!/bin/sh\necho planted > ${marker}\n`, {
      mode: 0o755,
    });
    fs.chmodSync(plant, 0o777);
    const path0 = process.env.PATH;
    process.env.PATH = `${plant}:${path0}`;
    try {
      const out = await git(["--version"], { cwd: plant });
      expect(out).toMatch(/^git version/);
      expect(program("git")).toMatch(/^\/usr\/(local\/)?bin\/git$/);
      expect(fs.existsSync(marker)).toBe(false);
    } finally {
      process.env.PATH = path0;
      fs.rmSync(plant, { recursive: true, force: true });
    }
  });
});
