// Neighbouring float64 values, so an open bound (`$lt x`) becomes a closed one
// (`≤ nextDown(x)`) that excludes exactly x and nothing else representable.
const scratch = new DataView(new ArrayBuffer(8));

/** The least float64 greater than x (x itself for NaN and +Infinity). */
export function nextUp(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x === 0) return Number.MIN_VALUE;
  scratch.setFloat64(0, x);
  const bits = scratch.getBigUint64(0);
  // Positive floats grow with their bit pattern, negative ones shrink.
  scratch.setBigUint64(0, x > 0 ? bits + 1n : bits - 1n);
  const next = scratch.getFloat64(0);
  return next === 0 ? 0 : next; // -MIN_VALUE steps to -0; keep bounds free of -0
}

/** The greatest float64 less than x (x itself for NaN and -Infinity). */
export function nextDown(x: number): number {
  const down = -nextUp(-x);
  return down === 0 ? 0 : down;
}
