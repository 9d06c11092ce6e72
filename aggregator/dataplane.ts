/**
 * Detects the dataplane under test (the variable a comparison changes), never taken on trust
 * from a label. On the lab: the profile `lab up` recorded in its state file. Calico, Cilium and
 * kube-proxy detection needs the Kubernetes API and comes with the Kubernetes integration.
 */
import { readFile } from 'node:fs/promises';
import type { Dataplane } from '../shared/environment.js';
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
      dataplane: { kind: 'unknown', settings: {}, source: `no lab state at ${labStateFile}, and no Kubernetes API access configured` },
      lab: null,
    };
  }
  const parsed = LabStateSchema.safeParse(parseJson(text));
  if (!parsed.success) {
    return { dataplane: { kind: 'unknown', settings: {}, source: `${labStateFile} is not a valid lab state file` }, lab: null };
  }
  const p = parsed.data.profile;
  return {
    dataplane: {
      kind: 'lab',
      settings: { podNetwork: p.podNetwork, serviceProxy: p.serviceProxy, linkRate: p.linkRate ?? 'none' },
      source: labStateFile,
    },
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
