/**
 * The typed form of one iperf3 `-J` report, as the parser in iperf3-parse.ts produces it and
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
  /** end.sum_sent (TCP) or end.sum (UDP, sender view). */
  sentBitsPerSecond: nonNeg,
  sentBytes: nonNeg,
  /** end.sum_received (TCP); for UDP the receiver's view, excluding lost packets. */
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
