/**
 * The typed form of one iperf3 `-J` report, as the parser in iperf3.ts produces it and
 * as it travels in a `result` message. Units are in the field names.
 */
import { z } from 'zod';

const nonNeg = z.number().finite().min(0);

/**
 * When iperf3 measured, as its report says (shared/iperf3-timing.ts reads it and places it on
 * the wall clock). Seconds since the test started (its streams connected): iperf3's `--omit`
 * seconds come before measuredStartSeconds and are in none of the sums.
 */
export const Iperf3TimingSchema = z.strictObject({
  /** start.timestamp.timesecs: when the control connection was made, whole seconds since the epoch (iperf3 truncates). */
  connectedAtSeconds: z.number().int().min(0),
  /** Start of the first interval iperf3 did not omit. */
  measuredStartSeconds: nonNeg,
  /** End of the last interval. */
  measuredEndSeconds: nonNeg,
});
export type Iperf3Timing = z.infer<typeof Iperf3TimingSchema>;

export const IperfResultSchema = z.strictObject({
  protocol: z.enum(['tcp', 'udp']),
  /** iperf3's `-R` as it ran. */
  reverse: z.boolean(),
  streams: z.number().int().min(1),
  durationSeconds: nonNeg,
  /** end.sum_sent: the sender's view (for UDP, what was sent, lost datagrams included). */
  sentBitsPerSecond: nonNeg,
  sentBytes: nonNeg,
  /** end.sum_received: the receiver's view (for UDP, excluding lost datagrams); a client of a forward test has it from the server. */
  receivedBitsPerSecond: nonNeg,
  receivedBytes: nonNeg,
  tcp: z
    .strictObject({
      retransmits: z.number().int().min(0),
      /** Across streams, from the sender's sockets; null when iperf3 reported none (e.g. -R on the client). */
      rttMinSeconds: nonNeg.nullable(),
      rttMeanSeconds: nonNeg.nullable(),
      rttMaxSeconds: nonNeg.nullable(),
    })
    .optional(),
  /**
   * The receiver's UDP figures. Absent from a report that has no true ones: a sending server's,
   * and a forward client's with -O (3.12 counts the omitted seconds' losses there; the server's
   * report has the true loss).
   */
  udp: z
    .strictObject({
      jitterSeconds: nonNeg,
      lostPackets: z.number().int().min(0),
      packets: z.number().int().min(0),
      /** lost / sent, 0..1 */
      lossRatio: z.number().min(0).max(1),
    })
    .optional(),
  /** iperf3's own process CPU (getrusage), NOT the node's: it misses softirq and the dataplane. */
  iperfCpu: z
    .strictObject({
      hostTotalPercent: nonNeg,
      remoteTotalPercent: nonNeg,
    })
    .optional(),
  /** When iperf3 measured; absent when its report has no timestamp or intervals, and in results written before it. */
  timing: Iperf3TimingSchema.optional(),
  /** iperf3's `error` text, if the report has one. */
  error: z.string().max(4096).optional(),
});
export type IperfResult = z.infer<typeof IperfResultSchema>;
