import fs from "node:fs";
import S3rver from "s3rver";
import { tempDir } from "./fixtures";

/**
 * A real S3-compatible server for tests: s3rver, a Node implementation of the S3 REST API
 * (buckets, PutObject, HeadObject, GetObject, ListObjectsV2), storing objects in a temp folder.
 * It parses each request's SigV4 Authorization header and refuses an access key it does not
 * know (InvalidAccessKeyId), but does not recompute V4 signatures: a wrong secret passes.
 * Its one account's access key is "S3RVER".
 */
export const S3RVER_ACCESS_KEY = "S3RVER";

export async function startS3(buckets: string[]) {
  const dir = tempDir("hyperion-s3-");
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async close() {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
