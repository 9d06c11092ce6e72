/**
 * The lab's state file (LAB_STATE_FILE, /run/netmatrix/lab.json): what `lab up` built, for
 * `lab status`, for the counters (which proxy to read) and for the aggregator's dataplane
 * detector. Written last by up, removed by down.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LAB_STATE_FILE, LabStateSchema, type LabState } from '../shared/lab-profile.js';
import { VETH_DEFAULT_MTU, type LabPlan } from './addresses.js';
import { podNetworkOf } from './pod-networks/index.js';

export { LAB_STATE_FILE } from '../shared/lab-profile.js';

/** The state of a lab built from `plan` now. */
export function labStateOf(plan: LabPlan, now: Date): LabState {
  return LabStateSchema.parse({
    kind: 'netmatrix-lab',
    nodes: plan.nodes.length,
    profile: plan.profile,
    // What the pods' interfaces have once built: the pod network's MTU, or a veth's default.
    podMtu: podNetworkOf(plan.profile.podNetwork).podMtu ?? VETH_DEFAULT_MTU,
    createdAt: now.toISOString(),
  });
}

export async function writeLabState(state: LabState, file = LAB_STATE_FILE): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  // Write then rename, so a reader never sees half a file.
  await writeFile(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n');
  await rename(`${file}.tmp`, file);
}

/** The state file's content; undefined when there is none. A file that does not parse is an error. */
export async function readLabState(file = LAB_STATE_FILE): Promise<LabState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not a lab state file: ${(e as Error).message}`);
  }
  const parsed = LabStateSchema.safeParse(json);
  if (!parsed.success)
    throw new Error(`${file} is not a lab state file: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export async function removeLabState(file = LAB_STATE_FILE): Promise<void> {
  await rm(file, { force: true });
  await rm(`${file}.tmp`, { force: true });
}
