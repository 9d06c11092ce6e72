/**
 * How compare writes its numbers, the same in the text tables, the HTML report and the chart
 * labels: throughput and round-trip times with their unit in every cell, CPU in %, cost in
 * CPU-seconds per 10^9 bytes.
 */
import type { Path, Protocol } from '../../shared/protocol.js';

/** A missing figure (nothing measured, or nothing to compare with). */
export const NONE = '-';

interface BitrateUnit {
  name: string;
  bitsPerSecond: number;
  decimals: number;
}

const UNITS: readonly BitrateUnit[] = [
  { name: 'Gbit/s', bitsPerSecond: 1e9, decimals: 2 },
  { name: 'Mbit/s', bitsPerSecond: 1e6, decimals: 1 },
  { name: 'kbit/s', bitsPerSecond: 1e3, decimals: 1 },
  { name: 'bit/s', bitsPerSecond: 1, decimals: 0 },
];

function unitFor(bitsPerSecond: number): BitrateUnit {
  const i = UNITS.findIndex((u) => bitsPerSecond >= u.bitsPerSecond);
  if (i < 0) return UNITS[UNITS.length - 1] as BitrateUnit;
  const u = UNITS[i] as BitrateUnit;
  // 999.96 Mbit/s would print as "1000.0 Mbit/s": write it in the next unit up.
  if (i > 0 && Number(scaled(bitsPerSecond, u)) >= 1000) return UNITS[i - 1] as BitrateUnit;
  return u;
}

function scaled(bitsPerSecond: number, u: BitrateUnit): string {
  return (bitsPerSecond / u.bitsPerSecond).toFixed(u.decimals);
}

/** "12.34 Gbit/s" at 1 Gbit/s and above, "850.3 Mbit/s" below, and so on down. */
export function formatBitrate(bitsPerSecond: number | null | undefined): string {
  if (bitsPerSecond === null || bitsPerSecond === undefined) return NONE;
  const u = unitFor(bitsPerSecond);
  return `${scaled(bitsPerSecond, u)} ${u.name}`;
}

/** "9.20-9.55 Gbit/s"; the unit is written once when both ends share it. */
export function formatBitrateRange(low: number | null | undefined, high: number | null | undefined): string {
  if (low === null || low === undefined || high === null || high === undefined) return NONE;
  const a = unitFor(low);
  const b = unitFor(high);
  if (a === b) return `${scaled(low, a)}-${scaled(high, b)} ${a.name}`;
  return `${formatBitrate(low)}-${formatBitrate(high)}`;
}

/** The axis unit for a chart whose largest value is `maxBitsPerSecond`. */
export function chartBitrateUnit(maxBitsPerSecond: number): { name: string; bitsPerSecond: number } {
  return maxBitsPerSecond >= 1e9 ? { name: 'Gbit/s', bitsPerSecond: 1e9 } : { name: 'Mbit/s', bitsPerSecond: 1e6 };
}

/** A round-trip time in µs or ms, with three significant figures (one decimal below 100 µs). */
function rttParts(microseconds: number): { value: string; unit: string } {
  // Decide on the rounded figure, so 99.96 µs is "100 µs", not "100.0 µs", and 999.7 µs is "1.00 ms".
  if (Number(microseconds.toFixed(1)) < 100) return { value: microseconds.toFixed(1), unit: 'µs' };
  if (Number(microseconds.toFixed(0)) < 1000) return { value: microseconds.toFixed(0), unit: 'µs' };
  const ms = microseconds / 1000;
  if (Number(ms.toFixed(2)) < 10) return { value: ms.toFixed(2), unit: 'ms' };
  if (Number(ms.toFixed(1)) < 100) return { value: ms.toFixed(1), unit: 'ms' };
  return { value: ms.toFixed(0), unit: 'ms' };
}

/** "48.2 µs", "172 µs", "1.25 ms". */
export function formatRtt(microseconds: number | null | undefined): string {
  if (microseconds === null || microseconds === undefined) return NONE;
  const p = rttParts(microseconds);
  return `${p.value} ${p.unit}`;
}

/** "45.1-52.3 µs"; the unit is written once when both ends share it. */
export function formatRttRange(low: number | null | undefined, high: number | null | undefined): string {
  if (low === null || low === undefined || high === null || high === undefined) return NONE;
  const a = rttParts(low);
  const b = rttParts(high);
  return a.unit === b.unit ? `${a.value}-${b.value} ${a.unit}` : `${formatRtt(low)}-${formatRtt(high)}`;
}

/** The axis unit for a round-trip chart whose largest value is `maxMicroseconds`. */
export function chartRttUnit(maxMicroseconds: number): { name: string; microseconds: number } {
  return maxMicroseconds >= 10_000 ? { name: 'ms', microseconds: 1000 } : { name: 'µs', microseconds: 1 };
}

/** A share of messages lost: "0%", "0.05%", "<0.01%" for a loss too small for two decimals. */
export function formatDropped(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined) return NONE;
  if (ratio === 0) return '0%';
  const percent = ratio * 100;
  return percent < 0.005 ? '<0.01%' : `${percent.toFixed(2)}%`;
}

/** CPU busy %, one decimal. */
export function formatPercent(percent: number | null | undefined): string {
  if (percent === null || percent === undefined) return NONE;
  return percent.toFixed(1);
}

/** CPU-seconds per GB: three significant figures for small costs, two decimals otherwise. */
export function formatCpuCost(secondsPerGigabyte: number | null | undefined): string {
  if (secondsPerGigabyte === null || secondsPerGigabyte === undefined) return NONE;
  if (secondsPerGigabyte >= 10) return secondsPerGigabyte.toFixed(1);
  if (secondsPerGigabyte >= 1) return secondsPerGigabyte.toFixed(2);
  return secondsPerGigabyte.toFixed(3);
}

/** A ratio such as pod/node throughput: "0.93". */
export function formatRatio(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined) return NONE;
  return ratio.toFixed(2);
}

/** A signed change in %: "+36.0%", "-4.2%". */
export function formatSignedPercent(percent: number): string {
  const s = percent.toFixed(1);
  // -0.0 reads as a change; print it as no change.
  if (Number(s) === 0) return '0.0%';
  return `${percent > 0 ? '+' : ''}${s}%`;
}

const PATH_TITLES: Record<Path, string> = { node: 'node-to-node', pod: 'pod-to-pod', service: 'pod-to-service' };

/** "pod-to-service TCP". */
export function pathProtocolTitle(path: Path, protocol: Protocol): string {
  return `${PATH_TITLES[path]} ${protocol.toUpperCase()}`;
}
