// A request's search mode and fusion (lib/lexical/hybrid.ts): GET's `mode=` and
// `fusion=`, a POST body's "mode"/"fusion", or a batch entry's own. Unknown
// values are a 400 naming the allowed ones, before any embedding or KV read.
import { SEARCH_MODES, type SearchMode } from "../lib/lexical/hybrid.ts";
import { FUSIONS, type Fusion } from "../lib/lexical/fusion.ts";
import { HttpError } from "./http.ts";

/** What a query asked for; absent members take the index's defaults. */
export interface ModeRequest {
  mode?: SearchMode;
  fusion?: Fusion;
}

export function parseMode(raw: unknown, field = "mode"): SearchMode | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  if (typeof raw !== "string" || !(SEARCH_MODES as readonly string[]).includes(raw)) {
    throw new HttpError("invalid_mode", `"${field}" must be one of ${SEARCH_MODES.join(", ")}`, { param: field });
  }
  return raw as SearchMode;
}

export function parseFusion(raw: unknown, field = "fusion"): Fusion | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  if (typeof raw !== "string" || !(FUSIONS as readonly string[]).includes(raw)) {
    throw new HttpError("invalid_fusion", `"${field}" must be one of ${FUSIONS.join(", ")}`, { param: field });
  }
  return raw as Fusion;
}

/** A request's (or batch entry's) mode and fusion; `where` prefixes the field names in errors. */
export function modeRequest(source: { mode?: unknown; fusion?: unknown }, where = "", shared: ModeRequest = {}): ModeRequest {
  const mode = "mode" in source ? parseMode(source.mode, `${where}mode`) : shared.mode;
  const fusion = "fusion" in source ? parseFusion(source.fusion, `${where}fusion`) : shared.fusion;
  return { ...(mode ? { mode } : {}), ...(fusion ? { fusion } : {}) };
}
