/**
 * The lab's profile plug-in registries against LabProfileSchema: every profile value a results
 * file can record has exactly one plug-in, under its own name, and the CLI's help lists them all.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planLab } from '../../lab/plan.js';
import { POD_NETWORKS } from '../../lab/pod-networks/index.js';
import { LAB_SETTINGS } from '../../lab/flags.js';
import { settingsHelp } from '../../shared/settings.js';
import { SERVICE_PROXIES } from '../../lab/service-proxies/index.js';
import { LabProfileSchema } from '../../shared/lab-profile.js';

const families = [
  { field: 'podNetwork', registry: POD_NETWORKS as Record<string, { name: string; description: string }> },
  { field: 'serviceProxy', registry: SERVICE_PROXIES as Record<string, { name: string; description: string }> },
] as const;

function schemaValues(field: 'podNetwork' | 'serviceProxy'): string[] {
  return [...LabProfileSchema.shape[field].unwrap().options];
}

describe('lab profile registries', () => {
  it.each(families)('has one $field plug-in per value of the schema, each under its own name', ({ field, registry }) => {
    expect(new Set(Object.keys(registry))).toEqual(new Set(schemaValues(field)));
    for (const [key, plugin] of Object.entries(registry)) {
      expect(plugin.name).toBe(key);
      expect(plugin.description.trim().length, key).toBeGreaterThan(0);
      expect(plugin.description, key).not.toContain('\n');
    }
  });

  it('plans a cgroup only for a Service proxy that asks for one, under the given cgroup2 mount', () => {
    for (const [name, proxy] of Object.entries(SERVICE_PROXIES)) {
      const plan = planLab(1, { profile: { serviceProxy: proxy.name }, cgroupRoot: '/mnt/cg/' });
      expect(plan.cgroup, name).toBe(proxy.cgroup('/mnt/cg/'));
    }
    expect(planLab(1, { profile: { serviceProxy: 'ebpf' }, cgroupRoot: '/mnt/cg/' }).cgroup).toBe('/mnt/cg/netmatrix-lab');
  });

  it('leaves no switch on a profile name in the lab outside the plug-ins', () => {
    const names = [...schemaValues('podNetwork'), ...schemaValues('serviceProxy')].join('|');
    const comparison = new RegExp(`[!=]==?\\s*'(${names})'|case '(${names})'`);
    const dir = new URL('../../lab/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('lab.ts');
    for (const f of files) expect(readFileSync(new URL(f, dir), 'utf8'), f).not.toMatch(comparison);
  });
});

describe('lab profile help', () => {
  it("shows every registered value with its plug-in's description, in the schema order, in the lab flags' help", () => {
    const help = settingsHelp(LAB_SETTINGS);
    for (const [field, registry] of [
      ['podNetwork', POD_NETWORKS],
      ['serviceProxy', SERVICE_PROXIES],
    ] as const) {
      const values = schemaValues(field);
      const at = values.map((v) => help.indexOf(`${v} (${(registry as Record<string, { description: string }>)[v]?.description}`));
      expect(at.every((i) => i > 0)).toBe(true);
      expect([...at].sort((x, y) => x - y)).toEqual(at);
    }
  });
});
