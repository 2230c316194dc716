/** The agent's own CPU share since the previous reading, and its RSS. */
export class SelfUsage {
  #lastCpu = process.cpuUsage();
  #lastAt = performance.now();

  read(): { cpuPercent: number; rssBytes: number } {
    const now = performance.now();
    const cpu = process.cpuUsage(this.#lastCpu);
    const elapsedMs = now - this.#lastAt;
    this.#lastCpu = process.cpuUsage();
    this.#lastAt = now;
    const cpuPercent = elapsedMs > 0 ? ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100 : 0;
    return { cpuPercent: Math.round(cpuPercent * 100) / 100, rssBytes: process.memoryUsage.rss() };
  }
}
