// The header and mark set by client-address-hook.mjs; keep the names in step.
const HOOK_HEADER = "x-hyperion-client-address";
const HOOK_MARK = Symbol.for("hyperion.clientAddressHook");

type HeaderBag = Headers | Record<string, string | string[] | undefined> | undefined;

function header(headers: HeaderBag, name: string): string | undefined {
  if (!headers) return undefined;
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const value = headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}

const clean = (address: string) =>
  address
    .trim()
    .replace(/^::ffff:(?=\d+\.)/, "")
    .slice(0, 64);

/**
 * The client's address, for throttling sign-ins. Behind a reverse proxy (HYPERION_TRUST_PROXY=1)
 * it is the last X-Forwarded-For entry, the one the proxy itself added; otherwise it is the
 * socket's peer, as the start-up hook recorded it. X-Forwarded-For is never believed without
 * the setting: a direct client can write anything there. Without the hook (`next dev`) every
 * client shares one address, "unknown".
 */
export function clientAddress(headers: HeaderBag, opts: { trustProxy: boolean }): string {
  if (opts.trustProxy) {
    const hops = (header(headers, "x-forwarded-for") ?? "").split(",").map((h) => h.trim());
    const last = hops.filter(Boolean).at(-1);
    if (last) return clean(last);
  }
  const hooked = (globalThis as Record<symbol, unknown>)[HOOK_MARK] === true;
  const peer = hooked ? header(headers, HOOK_HEADER) : undefined;
  return peer ? clean(peer) : "unknown";
}
