// Progress for long stages: a redrawn bar on a TTY, a plain line every few
// seconds otherwise (CI logs), both with items, rate and ETA.
export class Progress {
  private readonly start = performance.now();
  private lastLine = 0;
  private readonly tty: boolean;
  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update(done: number): void {
    const now = performance.now();
    const secs = (now - this.start) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const eta = rate > 0 ? (this.total - done) / rate : Infinity;
    const pct = this.total ? done / this.total : 1;
    const stats = `${done}/${this.total} ${rate.toFixed(0)}/s ETA ${fmt(eta)}`;
    if (this.tty) {
      const width = 30;
      const bar = "█".repeat(Math.round(pct * width)).padEnd(width, "░");
      this.stream.write(`\r${this.label} ${bar} ${(pct * 100).toFixed(0).padStart(3)}% ${stats}\x1b[K`);
      if (done >= this.total) this.stream.write("\n");
    } else if (now - this.lastLine > 5000 || done >= this.total) {
      this.lastLine = now;
      this.stream.write(`${this.label}: ${(pct * 100).toFixed(0)}% ${stats}\n`);
    }
  }
}

function fmt(s: number): string {
  if (!Number.isFinite(s)) return "--";
  if (s < 60) return `${s.toFixed(0)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
}
