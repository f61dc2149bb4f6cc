// The shape every command-line entry shares: parse flags (a bad flag prints the
// usage, exit 2), answer --help, run, and turn the errors a user can fix into
// `error: message` with exit 2 — anything else is a bug and keeps its stack.
import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {}

type ErrorClass = abstract new (...args: never[]) => Error;

export async function runCli<const T extends ParseArgsConfig>(
  usage: string,
  config: T,
  body: (parsed: ReturnType<typeof parseArgs<T>>) => Promise<number | void>,
  expected: readonly ErrorClass[] = [],
): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs(config);
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n\n${usage}`);
    return 2;
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(usage);
    return 0;
  }
  try {
    return (await body(parsed)) ?? 0;
  } catch (e) {
    if (e instanceof UsageError || expected.some((E) => e instanceof E)) {
      process.stderr.write(`error: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
}
