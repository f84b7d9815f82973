/**
 * `git bisect run` over a list of commits, oldest first: the commit before the first is known
 * good and the last is known bad. `probe(i)` runs the checks on commits[i] and says whether they
 * passed. Each step halves the commits left, so n commits take ⌈log2 n⌉ probes at most; the
 * answer is the index of the first bad commit (assuming, as git bisect does, that once bad the
 * history stays bad).
 */
export async function bisect(
  count: number,
  probe: (index: number, left: number) => Promise<boolean>,
): Promise<number> {
  if (count < 1) throw new Error("bisect needs at least the known bad commit");
  let good = -1;
  let bad = count - 1;
  while (bad - good > 1) {
    const mid = good + Math.floor((bad - good) / 2);
    if (await probe(mid, bad - good - 1)) good = mid;
    else bad = mid;
  }
  return bad;
}
