import type { ShippingS3Config } from "@/schemas/config";
import type { HyperionEnv } from "@/server/env.mjs";
import type { ShippingTarget } from "./targets";

// The S3-compatible bucket target of log shipping: each segment uploaded by PutObject under
// `<prefix><segment name>`, found again after a crash by ListObjectsV2 on its first id.
// @aws-sdk/client-s3 is AWS's own client, kept current with the API, and speaks to any
// S3-compatible server (MinIO, Ceph, R2, Garage …) by its endpoint. It is imported only when a
// bucket is configured and a round runs: the CLI's start does not load it.

/** The variables the bucket's credentials come from; never the config. */
export const S3_CREDENTIAL_VARIABLES = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] as const;

export type S3Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

type CredentialEnv = Pick<
  HyperionEnv,
  "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" | "AWS_SESSION_TOKEN"
>;

/** The credentials from the environment, or the message naming the variables missing. */
export function s3Credentials(env: CredentialEnv): S3Credentials | { problem: string } {
  const missing = S3_CREDENTIAL_VARIABLES.filter((name) => !env[name]);
  if (missing.length || !env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY)
    return {
      problem: `shipping.s3 needs the bucket's credentials in the environment: set ${missing.join(
        " and ",
      )} (the config never holds them)`,
    };
  return {
    accessKeyId: env.AWS_ACCESS_KEY_ID,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
  };
}

/** s3://bucket/prefix, for logs: the endpoint's host, never a credential. */
export function s3Where(config: ShippingS3Config): string {
  return `s3://${config.bucket}/${config.prefix ?? ""} at ${new URL(config.endpoint).host}`;
}

const notFound = (err: unknown) => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "NotFound" || e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404;
};

type S3Sdk = typeof import("@aws-sdk/client-s3");

/**
 * The SDK's exports however this code was loaded. The package is CommonJS: Node's import()
 * names its exports, but in the CLI's bundle (dist/cli, esbuild split into chunks) the chunk
 * a dynamic import loads exports the package only as `default`. Reading `sdk.S3Client` there
 * gave undefined, and every round of the installed worker failed with "sdk.S3Client is not a
 * constructor" while the sources (tsx) worked.
 */
async function loadS3Sdk(): Promise<S3Sdk> {
  const mod = (await import("@aws-sdk/client-s3")) as S3Sdk & { default?: S3Sdk };
  if (typeof mod.S3Client === "function") return mod;
  if (typeof mod.default?.S3Client === "function") return mod.default;
  throw new Error("@aws-sdk/client-s3 loaded without S3Client: reinstall (npm install)");
}

export async function s3Target(
  config: ShippingS3Config,
  credentials: S3Credentials,
): Promise<ShippingTarget> {
  const sdk = await loadS3Sdk();
  const client = new sdk.S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    // Given here, so the SDK does not look for others (files in ~/.aws, instance metadata).
    credentials,
    // Checksums only where the API requires them: several S3-compatible servers refuse the
    // newer flexible-checksum headers (SigV4 still signs the body's SHA-256).
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 },
  });
  const prefix = config.prefix ?? "";
  const Bucket = config.bucket;
  return {
    where: s3Where(config),
    async prepare() {},
    async find(namePrefix) {
      const listed = await client.send(
        new sdk.ListObjectsV2Command({ Bucket, Prefix: `${prefix}${namePrefix}`, MaxKeys: 10 }),
      );
      const key = listed.Contents?.find((o) => o.Key?.startsWith(prefix))?.Key;
      return key ? key.slice(prefix.length) : null;
    },
    async has(name) {
      try {
        await client.send(new sdk.HeadObjectCommand({ Bucket, Key: `${prefix}${name}` }));
        return true;
      } catch (err) {
        if (notFound(err)) return false;
        throw err;
      }
    },
    async read(name) {
      const got = await client.send(new sdk.GetObjectCommand({ Bucket, Key: `${prefix}${name}` }));
      if (!got.Body) throw new Error(`${prefix}${name} came back empty from ${Bucket}`);
      return got.Body.transformToString("utf8");
    },
    async write(name, body) {
      await client.send(
        new sdk.PutObjectCommand({
          Bucket,
          Key: `${prefix}${name}`,
          Body: body,
          ContentType: "application/x-ndjson",
        }),
      );
    },
    close() {
      client.destroy();
    },
  };
}
