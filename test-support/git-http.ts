import http from "node:http";
import type net from "node:net";
import { execa } from "execa";
import { program } from "@/server/confine/programs";

// A git server over http on loopback that wants a token: Node's http server in front of git's own
// `git http-backend` (CGI), answering 401 with a Basic challenge until the request carries the
// token as its password, as GitHub and GitLab do for https remotes.

export async function startGitHttp(root: string, token: string) {
  const seen: string[] = []; // the Authorization headers received, to check what was sent
  const server = http.createServer((req, res) => {
    const auth = req.headers.authorization ?? "";
    seen.push(auth);
    const [, b64 = ""] = /^Basic (.+)$/.exec(auth) ?? [];
    const [user = "", pass = ""] = Buffer.from(b64, "base64").toString().split(/:(.*)/s);
    if (pass !== token) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' });
      res.end("authentication required\n");
      return;
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const child = execa(program("git"), ["http-backend"], {
      env: {
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? "GET",
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        REMOTE_USER: user || "git",
        REMOTE_ADDR: "127.0.0.1",
        GIT_CONFIG_NOSYSTEM: "1",
        HTTP_CONTENT_ENCODING: String(req.headers["content-encoding"] ?? ""),
      },
      extendEnv: false,
      input: req,
      encoding: "buffer",
      reject: false,
    });
    void child.then((r) => {
      const out = Buffer.from(r.stdout as Uint8Array);
      const crlf = out.indexOf("\r\n\r\n");
      const lf = out.indexOf("\n\n");
      const [split, gap] = crlf !== -1 && (lf === -1 || crlf < lf) ? [crlf, 4] : [lf, 2];
      const head = out.subarray(0, split).toString();
      const body = out.subarray(split + gap);
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.split(/\r?\n/)) {
        const [k = "", v = ""] = line.split(/:\s*(.*)/s);
        if (k.toLowerCase() === "status") status = Number(v.split(" ")[0]);
        else if (k) headers[k] = v;
      }
      res.writeHead(status, headers);
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: (name: string) => `http://127.0.0.1:${port}/${name}`,
    seen,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
