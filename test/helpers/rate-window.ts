// The local Rate Limiting binding (Miniflare) counts in fixed windows aligned to
// the wall clock (floor(now / period)): a burst that straddles a boundary is
// counted in two windows. Tests that must see a limit start their burst just
// after a boundary.

/** Resolves just after the next `periodSeconds` boundary of the wall clock. */
export async function atWindowStart(periodSeconds = 10): Promise<void> {
  const period = periodSeconds * 1000;
  await new Promise((r) => setTimeout(r, period - (Date.now() % period) + 20));
}
