import net from "node:net";
import { execa, type ResultPromise } from "execa";
import { program } from "@/server/confine/programs";

// A real git server on loopback for remote repositories: Debian's `git daemon` serving a folder
// of bare repositories over git://, pushes enabled. It can be stopped and started again on the
// same port, as a server that goes away for a while.

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ port, host: "127.0.0.1" });
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

export async function startGitDaemon(base: string) {
  const port = await freePort();
  let child: ResultPromise | null = null;
  const url = (name: string) => `git://127.0.0.1:${port}/${name}`;
  const start = async () => {
    child = execa(
      program("git"),
      [
        "daemon",
        "--reuseaddr",
        "--listen=127.0.0.1",
        `--port=${port}`,
        `--base-path=${base}`,
        "--export-all",
        "--enable=receive-pack",
        base,
      ],
      { reject: false, stdio: "ignore" },
    );
    // Ready once it accepts a connection: progress, not the clock (each try is a real connect).
    for (let i = 0; i < 1000; i++) {
      if (await accepts(port)) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`git daemon did not listen on ${port}`);
  };
  const stop = async () => {
    const c = child;
    child = null;
    if (!c) return;
    c.kill("SIGTERM");
    await c.catch(() => undefined);
  };
  await start();
  return { port, url, start, stop };
}
