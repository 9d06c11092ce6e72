/**
 * The ebpf Service proxy's data, kept pure: the bytes `bpftool map update` writes into the maps
 * of bpf/service.c, the parser of its counter map, and the mount table lookups the proxy
 * needs (where cgroup2 is, whether bpffs is mounted).
 *
 * Layouts (see service.c): key svc_key { be32 ip; be16 port; u8 proto; u8 pad } (8 bytes),
 * value svc_backend { be32 ip; be16 port; u16 pad } (8 bytes), hits { u64 connect; u64 sendmsg }
 * in host byte order (16 bytes).
 */
import type { LabPlan } from '../addresses.js';

/** The pinned maps of service.c, by their names in the object. */
export const BPF_MAPS = { services: 'nm_services', backends: 'nm_backends', hits: 'nm_svc_hits' } as const;
/** The programs of service.c and the cgroup hook each attaches to. */
export const BPF_PROGRAMS = [
  { name: 'nm_connect4', attachType: 'connect4' },
  { name: 'nm_sendmsg4', attachType: 'sendmsg4' },
  { name: 'nm_recvmsg4', attachType: 'recvmsg4' },
] as const;

const IPPROTO = { tcp: 6, udp: 17 } as const;
const PROTOCOL_OF: Record<number, 'tcp' | 'udp'> = { 6: 'tcp', 17: 'udp' };

function hex(bytes: number[]): string {
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

function ipBytes(ip: string): number[] {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new RangeError(`not an IPv4 address: ${ip}`);
  return parts;
}

/** An address, port and protocol as svc_key bytes, e.g. "c6 12 c8 0c 14 51 06 00". */
export function svcKeyHex(ip: string, port: number, protocol: 'tcp' | 'udp'): string {
  return hex([...ipBytes(ip), port >> 8, port & 0xff, IPPROTO[protocol], 0]);
}

/** An address and port as svc_backend bytes. */
export function svcBackendHex(ip: string, port: number): string {
  return hex([...ipBytes(ip), port >> 8, port & 0xff, 0, 0]);
}

/**
 * `bpftool batch file` lines that fill the maps pinned in `mapDir` for `plan`: each ClusterIP,
 * port and protocol to its pod (nm_services), the reverse for UDP replies (nm_backends), and a
 * zero hit counter per Service port, so an unused Service reads 0 rather than absent.
 */
export function bpfMapBatch(plan: LabPlan, mapDir: string): string[] {
  const update = (map: string, key: string, value: string) => `map update pinned ${mapDir}/${map} key hex ${key} value hex ${value}`;
  const zero = hex(new Array<number>(16).fill(0));
  const lines: string[] = [];
  for (const n of plan.nodes) {
    for (const port of plan.servicePorts) {
      for (const protocol of ['tcp', 'udp'] as const) {
        const key = svcKeyHex(n.serviceIp, port, protocol);
        lines.push(update(BPF_MAPS.services, key, svcBackendHex(n.podIp, port)), update(BPF_MAPS.hits, key, zero));
        if (protocol === 'udp') lines.push(update(BPF_MAPS.backends, svcKeyHex(n.podIp, port, protocol), svcBackendHex(n.serviceIp, port)));
      }
    }
  }
  return lines;
}

/** What the ebpf proxy translated for one Service port, from its counter map. */
export interface ServiceHits {
  serviceIp: string;
  protocol: 'tcp' | 'udp';
  port: number;
  /** connect() calls rewritten: TCP connections and connected UDP sockets. */
  connect: number;
  /** Datagrams of unconnected UDP sockets rewritten (sendmsg with an address). */
  sendmsg: number;
}

function bytesOf(v: unknown, length: number, what: string): number[] {
  if (!Array.isArray(v) || v.length !== length) throw new Error(`${what}: expected ${length} bytes, got ${JSON.stringify(v)}`);
  return v.map((b) => {
    const n = typeof b === 'string' ? Number.parseInt(b, 16) : Number.NaN;
    if (!Number.isInteger(n) || n < 0 || n > 255) throw new Error(`${what}: not a byte: ${JSON.stringify(b)}`);
    return n;
  });
}

function u64le(bytes: number[]): number {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i] ?? 0);
  return Number(v);
}

/**
 * Parse `bpftool -j map dump` of nm_svc_hits. Reads the raw "key"/"value" byte arrays, which
 * bpftool prints with or without BTF; the counters are in host byte order (little-endian on
 * the x86-64 and arm64 hosts the lab runs on).
 */
export function parseServiceHits(text: string): ServiceHits[] {
  const doc: unknown = JSON.parse(text);
  if (!Array.isArray(doc)) throw new Error('not bpftool -j map dump output: expected an array');
  return doc.map((entry: unknown) => {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as { key?: unknown; value?: unknown };
    const key = bytesOf(e.key, 8, 'nm_svc_hits key');
    const value = bytesOf(e.value, 16, 'nm_svc_hits value');
    const protocol = PROTOCOL_OF[key[6] ?? -1];
    if (!protocol) throw new Error(`nm_svc_hits key with unknown protocol ${key[6]}`);
    return {
      serviceIp: key.slice(0, 4).join('.'),
      protocol,
      port: ((key[4] ?? 0) << 8) | (key[5] ?? 0),
      connect: u64le(value.slice(0, 8)),
      sendmsg: u64le(value.slice(8, 16)),
    };
  });
}

/** Mount points of a given filesystem type in /proc/self/mountinfo text, in mount order. */
export function mountPoints(mountinfo: string, fsType: string): string[] {
  // "36 25 0:31 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw": field 5 is
  // the mount point, the first word after " - " the type. Octal escapes (\040) stand for spaces.
  return mountinfo.split('\n').flatMap((line) => {
    const [left, right] = line.split(' - ');
    const point = left?.split(' ')[4];
    if (point === undefined || right?.split(' ')[0] !== fsType) return [];
    return [point.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)))];
  });
}
