// Pure, so the sign-in form (a client component) can import it as well as the server.

const MAX_LENGTH = 2048;
const PLACEHOLDER_ORIGIN = "http://hyperion.invalid";

/**
 * Where to send a user after signing in, as a same-origin path. The value is parsed the way a
 * browser would parse it (so `/\evil`, `/%09/evil` and `//evil` are seen for the other hosts they
 * are) and only a result on `base`'s own origin is kept; anything else, unparsable or absurdly
 * long, is `/`.
 */
export function safeCallbackPath(value: unknown, base: string = PLACEHOLDER_ORIGIN): string {
  if (typeof value !== "string" || value === "" || value.length > MAX_LENGTH) return "/";
  let origin: string;
  let url: URL;
  try {
    origin = new URL(base).origin;
    url = new URL(value, origin);
  } catch {
    return "/";
  }
  if (url.origin !== origin) return "/";
  // Dot segments can leave `//host` at the start of the path (`/.//evil`), which a browser
  // would read as another host.
  const path = url.pathname.replace(/^\/+/, "/");
  return `${path}${url.search}${url.hash}`;
}
