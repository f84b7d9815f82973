import fs from "node:fs";
import path from "node:path";
import { writeDurably } from "./manifest";

/**
 * Where log shipping puts its segments (server/backup/shipping.ts): a folder, an S3-compatible
 * bucket (./s3.ts), or both. A segment's name is the same everywhere; `find` is how a round
 * learns that a crash left a segment there whose cursor did not move.
 */
export type ShippingTarget = {
  /** For logs and messages: the folder, or s3://bucket/prefix. Never a secret. */
  where: string;
  /** Before a stream's round: what a crash left half-written is cleared. */
  prepare(stream: string): Promise<void>;
  /** The name of a segment whose name starts with `namePrefix`, if there is one. */
  find(namePrefix: string): Promise<string | null>;
  has(name: string): Promise<boolean>;
  read(name: string): Promise<string>;
  /** Stored durably (or acknowledged by the bucket) when this resolves. */
  write(name: string, body: string): Promise<void>;
  close(): void;
};

/** The folder target: a segment written to a temp file, fsynced and renamed into place. */
export function folderTarget(folder: string): ShippingTarget {
  return {
    where: folder,
    async prepare(stream) {
      fs.mkdirSync(folder, { recursive: true });
      // A temp file a crash left before its rename: its rows are shipped again.
      for (const name of fs.readdirSync(folder))
        if (name.startsWith(`.${stream}-`) && name.endsWith(".tmp"))
          fs.rmSync(path.join(folder, name), { force: true });
    },
    async find(namePrefix) {
      return fs.readdirSync(folder).find((name) => name.startsWith(namePrefix)) ?? null;
    },
    async has(name) {
      return fs.existsSync(path.join(folder, name));
    },
    async read(name) {
      return fs.readFileSync(path.join(folder, name), "utf8");
    },
    async write(name, body) {
      writeDurably(path.join(folder, name), body);
    },
    close() {},
  };
}
