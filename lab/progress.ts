/**
 * One live status line on stderr. On a terminal it rewrites itself; in a log (CI) it prints
 * a line every few seconds instead of thousands of carriage returns.
 */
export class ProgressLine {
  private lastPrint = 0;
  private readonly tty = Boolean(process.stderr.isTTY);
  constructor(private readonly everyMs = 3000) {}

  update(text: string): void {
    if (this.tty) {
      process.stderr.write(`\r\x1b[2K${text}`);
      return;
    }
    const now = Date.now();
    if (now - this.lastPrint >= this.everyMs) {
      this.lastPrint = now;
      process.stderr.write(`${text}\n`);
    }
  }

  done(text: string): void {
    process.stderr.write(this.tty ? `\r\x1b[2K${text}\n` : `${text}\n`);
  }
}
