/**
 * The catalogue of expected failures. A failed test carries one of these codes in its result
 * and in `netmatrix_test_failures_total{reason}`; exceptions are for bugs only.
 * README's "Failure reasons" table is checked against this list by a test.
 */
import { z } from 'zod';

export const ERROR_CODES = {
  'server-not-ready': 'the target agent did not report its iperf3 server listening in time',
  'connect-timeout': 'the client could not connect to the iperf3 server in time',
  'connection-refused': 'the iperf3 server refused the connection (nothing listening)',
  'iperf3-busy': 'the iperf3 server was already running a test',
  'iperf3-error': 'iperf3 reported an error (the message has its text)',
  'iperf3-timeout': "iperf3 did not finish before the agent's deadline and was killed",
  'iperf3-spawn-failed': 'the agent could not start iperf3',
  'iperf3-bad-output': 'iperf3 printed output that is not a valid report',
  'sockperf-error': 'sockperf reported an error or measured nothing usable (the message has its text)',
  'sockperf-timeout': "sockperf did not finish before the agent's deadline and was killed",
  'sockperf-spawn-failed': 'the agent could not start sockperf',
  'sockperf-bad-output': 'sockperf printed output that is not a valid report',
  'no-replies': 'the latency client got no reply from its server (nothing answering, or every reply lost)',
  'test-timeout': 'the aggregator did not receive the result in time',
  'agent-busy': 'the agent was already running a test',
  'agent-lost': 'an agent of the test disconnected before it finished',
  'port-in-use': "the iperf3 port was already taken on the target agent's network",
  'spec-refused': 'the agent refused a command outside its configured limits',
  'no-target-address': 'no address is known for the target on this path (e.g. no service address)',
  cancelled: 'the test was cancelled',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
export const ErrorCodeSchema = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]);

/** An expected failure as a value: a code from the catalogue plus a human message. */
export interface Failure {
  code: ErrorCode;
  message: string;
}

export function failure(code: ErrorCode, message: string = ERROR_CODES[code]): Failure {
  return { code, message };
}
