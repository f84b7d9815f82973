/**
 * Texts built from what an agent did (paths it wrote, lines it printed) are bounded before they
 * reach a reason, an event or a page: an agent that writes 100 000 files must not make a reason
 * of a million characters.
 */

/** The longest reason a run or a task keeps; moveRun and moveTask clip to it. */
export const REASON_MAX = 2000;

/** The short form of a reason, for a copy of it (an event on another topic). */
export const REASON_BRIEF = 300;

/** 20000 → "20 000": digits in groups of three, for counts a person reads. */
export function grouped(n: number): string {
  const s = String(Math.trunc(Math.abs(n)));
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (i > 0 && (s.length - i) % 3 === 0) out += " ";
    out += s[i];
  }
  return n < 0 ? `-${out}` : out;
}

/** 1_234_567 → "1.2 M", 12_345 → "12.3 k", 950 → "950": a count read at a glance. */
export function humanCount(n: number): string {
  const units: [number, string][] = [
    [1e9, "G"],
    [1e6, "M"],
    [1e3, "k"],
  ];
  for (const [size, unit] of units)
    if (Math.abs(n) >= size) {
      const v = n / size;
      const shown = v >= 100 ? v.toFixed(0) : v.toFixed(1).replace(/\.0$/, "");
      return `${shown} ${unit}`;
    }
  return String(Math.trunc(n));
}

/**
 * At most `max` items (each cut to `itemMax` characters, all of them within about `chars`),
 * then "and 99 976 more": a list of paths that fits in a reason whatever its length.
 */
export function listSome(
  items: readonly string[],
  opts: { max?: number; chars?: number; itemMax?: number; sep?: string } = {},
): string {
  const max = opts.max ?? 30;
  const chars = opts.chars ?? 1200;
  const itemMax = opts.itemMax ?? 200;
  const sep = opts.sep ?? ", ";
  const shown: string[] = [];
  let length = 0;
  for (const item of items) {
    if (shown.length >= max) break;
    const cut = item.length > itemMax ? `${item.slice(0, itemMax - 1)}…` : item;
    if (shown.length > 0 && length + sep.length + cut.length > chars) break;
    shown.push(cut);
    length += (shown.length > 1 ? sep.length : 0) + cut.length;
  }
  const rest = items.length - shown.length;
  return rest > 0 ? `${shown.join(sep)} and ${grouped(rest)} more` : shown.join(sep);
}

/** A text cut to `max` characters, keeping its start, saying how much was left out. */
export function clipText(s: string, max: number): string {
  if (s.length <= max) return s;
  const note = (left: number) => `… (${grouped(left)} more characters)`;
  const keep = Math.max(0, max - note(s.length).length);
  return `${s.slice(0, keep)}${note(s.length - keep)}`;
}

/** A reason as a run or a task stores it: at most REASON_MAX characters. */
export function clipReason(s: string): string {
  return clipText(s, REASON_MAX);
}
