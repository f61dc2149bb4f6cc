// How metadata names and values read on the page: field names without
// underscores, dates as "29 Jan 2002" (UTC, never the browser's zone).

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

export interface PageDate {
  /** YYYY-MM-DD */
  iso: string;
  text: string;
}

/** A value that starts with a real calendar date (YYYY-MM-DD or YYYYMMDD), else null. */
export function asDate(value: unknown): PageDate | null {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})(?:$|[T ])/.exec(String(value));
  if (!m) return null;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  if (isNaN(d.getTime()) || d.getUTCMonth() !== +m[2] - 1 || d.getUTCDate() !== +m[3]) return null;
  return { iso: m[1] + "-" + m[2] + "-" + m[3], text: d.getUTCDate() + " " + MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear() };
}

export function label(key: string): string {
  return key.replace(/_/g, " ");
}
