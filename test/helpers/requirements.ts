/**
 * Tests that need root, network namespaces or a binary skip with their reason on a laptop and
 * FAIL in CI (CI=true): a lab test that silently skips in CI proves nothing.
 */
import { execFileSync } from 'node:child_process';
import { describe } from 'vitest';

export interface Requirements {
  root?: boolean;
  binaries?: string[];
  /** Any other check: returns why the test cannot run, or undefined. */
  check?: () => string | undefined;
}

function missing(requirements: Requirements): string | undefined {
  if (requirements.root && process.getuid?.() !== 0) return 'needs root (network namespaces)';
  const why = requirements.check?.();
  if (why) return why;
  for (const bin of requirements.binaries ?? []) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    } catch {
      return `needs ${bin} on PATH`;
    }
  }
  return undefined;
}

/** `describe` that runs when the requirements are met, skips with a reason otherwise, and fails in CI. */
export function describeWith(requirements: Requirements, name: string, body: () => void): void {
  const why = missing(requirements);
  if (!why) {
    describe(name, body);
    return;
  }
  if (process.env.CI) {
    describe(name, () => {
      throw new Error(`${name}: ${why}, and CI must run this test`);
    });
    return;
  }
  describe.skip(`${name} (skipped: ${why})`, body);
}

/** Poll `predicate` until it returns a truthy value or `timeoutMs` passes. Never a fixed sleep. */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  timeoutMs: number,
  what = 'condition',
  intervalMs = 100,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await predicate();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
