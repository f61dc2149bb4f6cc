// The shape every command-line entry shares: parse flags (a bad flag prints the
// usage, exit 2), answer --help, run, and turn the errors a user can fix into
// `error: message` with exit 2; anything else is a bug: its stack, exit 1.
// argv and both output streams are injectable, so tests run a command in-process.
import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {}

export type ErrorClass = abstract new (...args: never[]) => Error;

/** Where a command reads its arguments and writes its lines (one call per line, no trailing newline). */
export interface CliIo {
  argv?: string[];
  out?: (line: string) => void;
  err?: (line: string) => void;
}

export interface CliStreams {
  out: (line: string) => void;
  err: (line: string) => void;
}

const stdoutLine = (s: string) => void process.stdout.write(s + "\n");
const stderrLine = (s: string) => void process.stderr.write(s + "\n");

/** The command's streams: the injected ones, else stdout and stderr. */
export function cliStreams(io: CliIo = {}): CliStreams {
  return { out: io.out ?? stdoutLine, err: io.err ?? stderrLine };
}

export async function runCli<const T extends ParseArgsConfig>(
  usage: string,
  config: T,
  body: (parsed: ReturnType<typeof parseArgs<T>>, streams: CliStreams) => Promise<number | void>,
  expected: readonly ErrorClass[] = [],
  io: CliIo = {},
): Promise<number> {
  const streams = cliStreams(io);
  const { out, err } = streams;
  const text = usage.replace(/\n$/, "");
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs({ ...config, args: io.argv ?? config.args ?? process.argv.slice(2) }) as ReturnType<typeof parseArgs<T>>;
  } catch (e) {
    err(`error: ${(e as Error).message}\n\n${text}`);
    return 2;
  }
  if ((parsed.values as { help?: boolean }).help) {
    out(text);
    return 0;
  }
  try {
    return (await body(parsed, streams)) ?? 0;
  } catch (e) {
    if (e instanceof UsageError || expected.some((E) => e instanceof E)) {
      err(`error: ${(e as Error).message}`);
      return 2;
    }
    err(`error: ${(e as Error).stack ?? e}`);
    return 1;
  }
}

/** An integer flag ≥ min, or undefined when absent; anything else is a UsageError. */
export function parseIntFlag(name: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${v}"`);
  return n;
}

/** --rerank-margin, --probe-margin: a score margin, a finite number ≥ 0. */
export function parseMarginFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === "" || !(x >= 0 && Number.isFinite(x))) throw new UsageError(`--${name} must be a number ≥ 0, got "${v}"`);
  return x;
}

/** parseArgs options for flags that take a value: `stringFlags("out", "cache")` is `{ out: { type: "string" }, cache: { type: "string" } }`. */
export function stringFlags<const N extends string>(...names: N[]): { [K in N]: { type: "string" } } {
  return Object.fromEntries(names.map((n) => [n, { type: "string" }])) as { [K in N]: { type: "string" } };
}

/** parseArgs options for on/off flags: `booleanFlags("json", "quiet")`. */
export function booleanFlags<const N extends string>(...names: N[]): { [K in N]: { type: "boolean" } } {
  return Object.fromEntries(names.map((n) => [n, { type: "boolean" }])) as { [K in N]: { type: "boolean" } };
}

/** --help and -h, which runCli answers with the usage. */
export const HELP_FLAG = { help: { type: "boolean", short: "h" } } as const;
