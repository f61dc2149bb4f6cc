// The unversioned paths of before /v1: for one release they answer as their /v1
// successors, marked deprecated (RFC 9745 Deprecation, RFC 8594 Sunset, a Link
// to the successor). docs/api.md says what changed in the bodies.

export const ALIASES: Record<string, string> = {
  "/search": "/v1/search",
  "/embed": "/v1/embed",
  "/fields": "/v1/fields",
  "/examples": "/v1/examples",
  "/healthz": "/v1/healthz",
};

/** When the aliases were deprecated (the /v1 release), as RFC 9745 wants it: `@` and Unix seconds. */
export const DEPRECATED_SINCE = `@${Date.UTC(2026, 11, 4) / 1000}`;
/** When they stop answering. */
export const SUNSET = "Tue, 01 Jun 2027 00:00:00 GMT";

export function deprecationHeaders(successor: string): Record<string, string> {
  return { Deprecation: DEPRECATED_SINCE, Sunset: SUNSET, Link: `<${successor}>; rel="successor-version"` };
}
