// The load test's figures: what docs/reliability.json holds and the report renders.
import type { LoadReport } from "./load.ts";
import type { RunMeta } from "../common/run-meta.ts";
import type { HostileReport } from "./hostile.ts";
import type { CostReport } from "./cost-probes.ts";
import type { DeployUnderLoad } from "./deploy-under-load.ts";

export interface Figures {
  /** When, where and on what commit (absent from reports written before run metadata). */
  meta?: RunMeta;
  machine: string;
  corpus: { artifacts: string; items: number; version: string; shards: number };
  load: Omit<LoadReport, "answers">;
  /** resident: /healthz's resident status after the load, in words (absent in older reports). */
  memory: { afterLoadMiB: Isolate; afterBurstsMiB: Isolate[]; limitMiB: number; burst: string; resident?: string };
  batch: Array<{ kvDelayMs: number; batchWallMs: number; sumOfQueriesMs: number; speedUp: number }>;
  faults: Record<string, Record<string, number>>;
  hostile: HostileReport;
  /** Issue 24's costly requests (absent in older reports). */
  cost?: CostReport;
  deploy: DeployUnderLoad;
  /** Phases that threw (their figures are missing). */
  failures: string[];
}

export interface Isolate {
  jsHeap: number;
  /** Backing stores of ArrayBuffers; absent in reports from before they were counted. */
  arrayBuffers?: number;
  wasm: number;
  total: number;
}
