// The header and mark set by client-address-hook.mjs; keep the names in step.
const HOOK_HEADER = "x-hyperion-client-address";
const HOOK_MARK = Symbol.for("hyperion.clientAddressHook");

/**
 * The address of a client that cannot be told apart from others: no start-up hook, or a
 * loopback peer. Sign-in throttling never refuses it outright, since that would refuse every
 * client behind it at once.
 */
export const UNKNOWN_ADDRESS = "unknown";

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

const LOOPBACK = /^(?:127\.\d+\.\d+\.\d+|::1|0:0:0:0:0:0:0:1|localhost)$/i;

/** A loopback address is everyone on this machine, or a local proxy's: it names no one client. */
const identify = (address: string) => {
  const a = clean(address);
  return !a || LOOPBACK.test(a) ? UNKNOWN_ADDRESS : a;
};

/**
 * The client's address, for throttling sign-ins. Behind a reverse proxy (HYPERION_TRUST_PROXY=1)
 * it is the last X-Forwarded-For entry, the one the proxy itself added; otherwise it is the
 * socket's peer, as the start-up hook recorded it. X-Forwarded-For is never believed without
 * the setting: a direct client can write anything there. Without the hook (`next dev`) every
 * client shares one address, UNKNOWN_ADDRESS; so does every loopback peer, since those are all
 * the clients on this machine, or all the clients of a local proxy that is not trusted.
 */
export function clientAddress(headers: HeaderBag, opts: { trustProxy: boolean }): string {
  if (opts.trustProxy) {
    const hops = (header(headers, "x-forwarded-for") ?? "").split(",").map((h) => h.trim());
    const last = hops.filter(Boolean).at(-1);
    if (last) return identify(last);
  }
  const hooked = (globalThis as Record<symbol, unknown>)[HOOK_MARK] === true;
  const peer = hooked ? header(headers, HOOK_HEADER) : undefined;
  return peer ? identify(peer) : UNKNOWN_ADDRESS;
}
