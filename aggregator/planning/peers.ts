/**
 * Who measures whom beyond its own zone, in budget mode: a few fixed reference peers per node,
 * and a rotating sample of other-zone peers. Both are deterministic functions of the membership
 * (a hash ring), so a restart or another aggregator picks the same peers, and a join or a leave
 * moves only the few nodes next to it on the ring. Pure.
 */

/** A node and its zone; null when its zone is unknown (it is then a zone of its own). */
export interface Member {
  node: string;
  zone: string | null;
}

/** A stable, well-spread 32-bit hash of a name (not for security): FNV-1a, then murmur3's finaliser. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // FNV-1a alone leaves names that differ in their last characters close together on the ring.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The members on a hash ring, with each zone's positions on it. */
export class PeerLayout {
  /** Members in ring order (by hash of the name, then name). */
  private readonly ring: readonly Member[];
  private readonly hashes: readonly number[];
  private readonly position = new Map<string, number>();
  /** Ring positions of each known zone's members, ascending. */
  private readonly zonePositions = new Map<string, number[]>();
  /** The reference ring: VIRTUAL_POINTS points per member (by hash), each with its member's ring position. */
  private readonly points: readonly number[];
  private readonly pointOwner: readonly number[];

  constructor(members: readonly Member[]) {
    const keyed = members.map((m) => ({ m, h: hash32(m.node) }));
    keyed.sort((a, b) => a.h - b.h || (a.m.node < b.m.node ? -1 : 1));
    this.ring = keyed.map((k) => k.m);
    this.hashes = keyed.map((k) => k.h);
    this.ring.forEach((m, i) => {
      this.position.set(m.node, i);
      if (m.zone === null) return;
      const list = this.zonePositions.get(m.zone) ?? [];
      list.push(i);
      this.zonePositions.set(m.zone, list);
    });
    const points = this.ring.flatMap((m, i) => Array.from({ length: VIRTUAL_POINTS }, (_, v) => ({ h: hash32(`${m.node}#${v}`), i })));
    points.sort((a, b) => a.h - b.h || a.i - b.i);
    this.points = points.map((p) => p.h);
    this.pointOwner = points.map((p) => p.i);
  }

  /**
   * `k` fixed peers of `node` outside its zone (any other node when its zone is unknown): the
   * first other-zone members met on the reference ring after a point the node's name picks.
   * Consistent hashing: a join or a leave changes only the references that pass it. Fewer when
   * fewer exist.
   */
  referencePeers(node: string, k: number): string[] {
    const own = this.ownPositions(node);
    if (!own || k <= 0) return [];
    const ownSet = new Set(own);
    const want = Math.min(k, this.ring.length - own.length);
    const peers = new Set<number>();
    const start = firstAtOrAbove(this.points, hash32(`${node}#reference`));
    for (let j = 0; j < this.points.length && peers.size < want; j++) {
      const owner = this.pointOwner[(start + j) % this.points.length] as number;
      if (!ownSet.has(owner)) peers.add(owner);
    }
    return [...peers].map((i) => (this.ring[i] as Member).node);
  }

  /**
   * `m` peers of `node` outside its zone for sample `epoch`: the next ones after the node's own
   * place on the ring, moving on by `m` each epoch, so over ⌈outside/m⌉ epochs the node meets
   * every one of them. Starting from its own place spreads the targets: every node is the sample
   * peer of about `m` others in each epoch, however many zones there are.
   */
  crossZonePeers(node: string, epoch: number, m: number): string[] {
    const own = this.ownPositions(node);
    const at = this.position.get(node);
    if (!own || at === undefined || m <= 0) return [];
    const outside = this.ring.length - own.length;
    const base = at + 1 - countAtOrBelow(own, at);
    return this.outsidePeers(own, base + epoch * m, Math.min(m, outside));
  }

  /** `count` members outside `own`, from the `first`-th outside position on (wrapping). */
  private outsidePeers(own: readonly number[], first: number, count: number): string[] {
    const outside = this.ring.length - own.length;
    const peers: string[] = [];
    for (let j = 0; j < count; j++) {
      const member = this.ring[nthOutside(own, (((first + j) % outside) + outside) % outside)];
      if (member) peers.push(member.node);
    }
    return peers;
  }

  /** Ring positions of `node`'s zone (just its own when the zone is unknown); undefined if absent. */
  private ownPositions(node: string): readonly number[] | undefined {
    const at = this.position.get(node);
    if (at === undefined) return undefined;
    const zone = this.ring[at]?.zone ?? null;
    return zone === null ? [at] : this.zonePositions.get(zone);
  }
}

/**
 * Points per member on the reference ring. One point per member leaves arcs of very unequal
 * length, so some nodes would be everyone's reference; 16 evens the load out (each node is the
 * reference of about k others, at most a few times that).
 */
const VIRTUAL_POINTS = 16;

/** Index of the first value >= `x` in ascending `values` (values.length when none). */
function firstAtOrAbove(values: readonly number[], x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((values[mid] ?? 0) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How many of ascending `values` are <= `x`. */
function countAtOrBelow(values: readonly number[], x: number): number {
  return firstAtOrAbove(values, x + 1);
}

/** The `q`-th (0-based) ring position not in ascending `own`. */
function nthOutside(own: readonly number[], q: number): number {
  // The smallest x with q + 1 positions <= x outside `own`.
  let lo = q;
  let hi = q + own.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (mid + 1 - countAtOrBelow(own, mid) < q + 1) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
