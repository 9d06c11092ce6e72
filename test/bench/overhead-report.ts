/**
 * What `npm run bench:overhead` measured, as a report and as summary rows: per path and protocol,
 * the throughput netmatrix reports against bare iperf3's, and the agents' own CPU while
 * netmatrix tests ran, each against the bound issue 6 sets.
 */
import type { Path, Protocol } from '../../shared/protocol.js';
import { textTable, verdict, type SummaryRow } from './summary.js';

/**
 * netmatrix must report at least this share of bare iperf3's throughput. Judged on the median of
 * the per-repetition ratios: each pairs two tests run back to back (ABBA), so a machine whose
 * level moves during the run (other jobs on these 2 cores halved UDP rates between repetitions)
 * weighs on both sides. The ratio of the two medians is shown too; it ignores the pairing, and
 * with such drift it is in effect one repetition's ratio.
 */
export const THROUGHPUT_RATIO_BOUND = 0.97;
/** An agent's own CPU during a test (its iperf3 excluded) stays under this, % of one core. */
export const AGENT_CPU_PERCENT_BOUND = 2;

export interface Series {
  path: Path;
  protocol: Protocol;
  /** Receiver's rate per repetition, bits/s. */
  bare: number[];
  netmatrix: number[];
  /**
   * Own CPU of the client's and the server's agent, % of one core, one entry per netmatrix test
   * (a 2-node run tests both directions, so two per repetition).
   */
  clientAgentCpu: number[];
  serverAgentCpu: number[];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export const gbit = (bps: number) => `${(bps / 1e9).toFixed(2)} Gbit/s`;

const range = (xs: readonly number[], digits: number) => `${Math.min(...xs).toFixed(digits)}..${Math.max(...xs).toFixed(digits)}`;

function throughput(s: Series) {
  const perRep = s.netmatrix.map((n, i) => n / (s.bare[i] as number));
  const paired = median(perRep);
  return { paired, ofMedians: median(s.netmatrix) / median(s.bare), perRep, pass: paired >= THROUGHPUT_RATIO_BOUND };
}

function agentCpu(xs: readonly number[]) {
  const m = median(xs);
  return { median: m, pass: m < AGENT_CPU_PERCENT_BOUND };
}

/** The report on stdout: two tables, each figure beside its bound. */
export function report(series: readonly Series[], repeat: number, durationSeconds: number): string[] {
  const tput = series.map((s) => {
    const t = throughput(s);
    return [
      s.path,
      s.protocol,
      gbit(median(s.bare)),
      gbit(median(s.netmatrix)),
      t.ofMedians.toFixed(3),
      t.paired.toFixed(3),
      range(t.perRep, 3),
      `>= ${THROUGHPUT_RATIO_BOUND}`,
      verdict(t.pass),
    ];
  });
  const cpu = series.flatMap((s) =>
    (
      [
        ['client', s.clientAgentCpu],
        ['server', s.serverAgentCpu],
      ] as const
    ).map(([side, xs]) => {
      const c = agentCpu(xs);
      return [
        s.path,
        s.protocol,
        `${side} agent`,
        c.median.toFixed(2),
        range(xs, 2),
        String(xs.length),
        `< ${AGENT_CPU_PERCENT_BOUND}`,
        verdict(c.pass),
      ];
    }),
  );
  return [
    `Throughput: netmatrix's reported rate / bare iperf3's, node1 -> node2, ${repeat} x ${durationSeconds} s, alternating (ABBA); judged on the median per-rep ratio`,
    ...textTable(
      ['path', 'protocol', 'median bare', 'median netmatrix', 'ratio of medians', 'median per-rep ratio', 'per-rep min..max', 'bound', ''],
      tput,
    ),
    '',
    `Agent CPU: each agent's own utime+stime (not its iperf3) over each netmatrix test, % of one core`,
    ...textTable(['path', 'protocol', 'agent', 'median %', 'min..max %', 'tests', 'bound %', ''], cpu),
  ];
}

/** The same figures as rows for `--json` (all.ts's combined table). */
export function summaryRows(series: readonly Series[]): SummaryRow[] {
  return series.flatMap((s) => {
    const t = throughput(s);
    const scope = `${s.path}/${s.protocol}`;
    const cpuRow = (side: string, xs: readonly number[]): SummaryRow => {
      const c = agentCpu(xs);
      return {
        bench: 'overhead',
        figure: `${scope}: ${side} agent's own CPU, % of a core`,
        value: `${c.median.toFixed(2)} (${range(xs, 2)})`,
        bound: `< ${AGENT_CPU_PERCENT_BOUND}`,
        pass: c.pass,
      };
    };
    return [
      {
        bench: 'overhead',
        figure: `${scope}: netmatrix/bare throughput, median per-rep ratio`,
        value: `${t.paired.toFixed(3)} (${range(t.perRep, 3)})`,
        bound: `>= ${THROUGHPUT_RATIO_BOUND}`,
        pass: t.pass,
      },
      cpuRow('client', s.clientAgentCpu),
      cpuRow('server', s.serverAgentCpu),
    ];
  });
}
