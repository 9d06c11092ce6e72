/**
 * The architecture's rules are lint errors with the project's own ESLint config: a forbidden
 * import between layers, a reach past aggregator/kube's facade, an oversized file or function.
 * Each probe is a real file in the folder whose rules it tests (removed afterwards), linted the
 * way `npm run lint` lints it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const probes: string[] = [];

/** The rule ids ESLint reports for `code` written at `file` (repository-relative). */
async function lintAt(file: string, code: string): Promise<string[]> {
  const path = join(REPO, file);
  probes.push(path);
  writeFileSync(path, code);
  const [result] = await new ESLint({ cwd: REPO }).lintFiles([path]);
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

const probeName = (dir: string) => `${dir}/lint-probe-${process.pid}.ts`;

afterEach(() => {
  for (const p of probes.splice(0)) rmSync(p, { force: true });
});

describe('layers and sizes are enforced by lint', () => {
  it.each([
    ['shared', "import { Executor } from '../agent/executor.js';"],
    ['agent', "import { AgentRegistry } from '../aggregator/agents.js';"],
    ['aggregator', "import { Executor } from '../agent/executor.js';"],
    ['aggregator', "import { planLab } from '../lab/plan.js';"],
    ['client', "import { waitFor } from '../test/helpers/requirements.js';"],
  ])(
    'refuses an import that crosses the layers from %s/: %s',
    async (dir, line) => {
      const problems = await lintAt(probeName(dir), `${line}\nexport const probe = [${line.split(' ')[2]}];\n`);
      expect(problems.some((p) => p.startsWith('netmatrix/layers:'))).toBe(true);
    },
    60_000,
  );

  it('lets the aggregator reach aggregator/kube only through its facade', async () => {
    const problems = await lintAt(
      probeName('aggregator'),
      "import type { KubeStatus } from './kube/status.js';\nexport type Probe = KubeStatus;\n",
    );
    expect(problems).toEqual([expect.stringMatching(/^netmatrix\/layers: the aggregator reaches aggregator\/kube\/ only through/)]);
  }, 60_000);

  it('allows what the layers allow (agent importing shared)', async () => {
    const problems = await lintAt(
      probeName('agent'),
      "import { PROTOCOL_VERSION } from '../shared/protocol.js';\nexport const probe = PROTOCOL_VERSION;\n",
    );
    expect(problems).toEqual([]);
  }, 60_000);

  it('refuses a product file of more than 300 lines of code, and a function of more than 80', async () => {
    const lines = Array.from({ length: 301 }, (_, i) => `export const v${i} = ${i};`).join('\n');
    expect(await lintAt(probeName('shared'), `${lines}\n`)).toEqual([expect.stringMatching(/^max-lines: /)]);
    const body = Array.from({ length: 81 }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const fn = `export function probe(): number {\n${body}\n  return ${Array.from({ length: 81 }, (_, i) => `v${i}`).join(' + ')};\n}\n`;
    expect(await lintAt(probeName('shared'), fn)).toEqual([expect.stringMatching(/^max-lines-per-function: /)]);
  }, 60_000);
});
