/**
 * Detects the dataplane under test (the variable a comparison changes), never taken on trust
 * from a label. On the lab: the profile and pod MTU `lab up` recorded in its state file, every
 * setting marked as read from that file (a profile field the file leaves out takes the lab's
 * default, and is marked assumed). Calico, Cilium and kube-proxy detection is in kube/dataplane.ts.
 */
import { readFile } from 'node:fs/promises';
import { MarkedSettings, type Dataplane } from '../shared/environment.js';
import { LabStateSchema, type LabProfile } from '../shared/lab-profile.js';

export interface DataplaneInfo {
  dataplane: Dataplane;
  lab: LabProfile | null;
}

export async function detectDataplane(labStateFile: string): Promise<DataplaneInfo> {
  let text: string;
  try {
    text = await readFile(labStateFile, 'utf8');
  } catch {
    return {
      dataplane: {
        kind: 'unknown',
        settings: {},
        provenance: {},
        source: `no lab state at ${labStateFile}, and no Kubernetes API access configured`,
      },
      lab: null,
    };
  }
  const json = parseJson(text);
  const parsed = LabStateSchema.safeParse(json);
  if (!parsed.success) {
    return {
      dataplane: { kind: 'unknown', settings: {}, provenance: {}, source: `${labStateFile} is not a valid lab state file` },
      lab: null,
    };
  }
  const p = parsed.data.profile;
  // What the file itself says, before the schema's defaults filled the gaps.
  const written = (json as { profile: Record<string, unknown> }).profile;
  const from = `lab state ${labStateFile}`;
  const s = new MarkedSettings();
  const field = (key: keyof LabProfile, value: string) => {
    if (key in written) s.read(key, value, from);
    else s.assumed(key, value, `the lab's default when the state file has no ${key}`);
  };
  field('podNetwork', p.podNetwork);
  field('serviceProxy', p.serviceProxy);
  field('linkRate', p.linkRate ?? 'none');
  if (parsed.data.podMtu !== undefined) s.read('podMtu', String(parsed.data.podMtu), from);
  return {
    dataplane: { kind: 'lab', settings: s.settings, provenance: s.provenance, source: labStateFile },
    lab: p,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
