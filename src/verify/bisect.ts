// Binary search over a sorted sequence, for the checks that place reads and writes by version or by time.

/** the first index in [0, n) at which `reached` holds, n when it never does; `reached` must hold from some index on */
export function firstWhere(n: number, reached: (i: number) => boolean): number {
  let a = 0;
  let b = n;
  while (a < b) {
    const m = (a + b) >> 1;
    if (reached(m)) b = m;
    else a = m + 1;
  }
  return a;
}
