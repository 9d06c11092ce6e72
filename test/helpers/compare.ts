/** Run `netmatrix compare` in-process and capture what it prints. */
import { expect } from 'vitest';
import { runCompare } from '../../client/compare/command.js';

export async function captureCompare(args: string[]): Promise<{ code: number; stdout: string; stderr: string; stderrLines: string[] }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCompare(args, { stdout: (s) => stdout.push(s), stderr: (s) => stderr.push(s) });
  // Each write is whole lines, newline included (process.stdout.write semantics).
  for (const chunk of [...stdout, ...stderr]) expect(chunk.endsWith('\n')).toBe(true);
  return { code, stdout: stdout.join(''), stderr: stderr.join(''), stderrLines: stderr.join('').split('\n').slice(0, -1) };
}
