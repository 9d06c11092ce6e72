/** Agent reports for scheduler tests: the idle windows a busy-node rest is decided on. */
import type { CpuReport, CpuWindow } from '../../shared/cpu.js';
import type { NicReport } from '../../shared/nic.js';

/** A NIC report whose idle window is the second before `atMs` and whose test window ends `tailMs` after it. */
export function nicReport(atMs: number, idleRxBitsPerSecond: number, tailMs: number): NicReport {
  return {
    interface: 'eth0',
    idle: { startMs: atMs - 1000, endMs: atMs, rxBitsPerSecond: idleRxBitsPerSecond, txBitsPerSecond: 0 },
    test: { startMs: atMs, endMs: atMs + tailMs, rxBitsPerSecond: 9.4e9, txBitsPerSecond: 0 },
  };
}

/** A CPU report whose idle window is the second before `atMs` (the test takes no virtual time). */
export function cpuReport(atMs: number, idlePercent: number): CpuReport {
  const window = (startMs: number, endMs: number, busyPercent: number): CpuWindow => ({
    startMs,
    endMs,
    cores: 2,
    busyPercent,
    softirqPercent: 0,
    maxCorePercent: busyPercent,
    coreBusyPercent: null,
    modes: { user: busyPercent, nice: 0, system: 0, iowait: 0, irq: 0, softirq: 0, steal: 0 },
    busyCpuSeconds: (2 * busyPercent) / 100,
  });
  return { idle: window(atMs - 1000, atMs, idlePercent), test: window(atMs, atMs, 50), intervals: [], measured: null };
}
