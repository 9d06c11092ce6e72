/**
 * Measured pairs in the order they were measured, oldest first: the staleness order itself,
 * since a pair measured later is fresher. 12 bytes per entry in typed arrays. A pair measured
 * again is killed where it stood and appended at the end, so it appears once.
 */

const DEAD = 0xffffffff;

export class MeasuredLog {
  private ids = new Uint32Array(1024);
  private ats = new Float64Array(1024);
  /** First entry that may be alive. */
  private first = 0;
  /** One past the last entry. */
  private end = 0;
  private dead = 0;

  get head(): number {
    return this.first;
  }

  get tail(): number {
    return this.end;
  }

  /** Pair id at index `i`, or undefined for a killed entry. */
  id(i: number): number | undefined {
    const id = this.ids[i];
    return id === undefined || id === DEAD ? undefined : id;
  }

  at(i: number): number {
    return this.ats[i] ?? Number.POSITIVE_INFINITY;
  }

  append(id: number, at: number): void {
    if (this.end === this.ids.length) this.makeRoom();
    this.ids[this.end] = id;
    this.ats[this.end] = at;
    this.end++;
  }

  kill(i: number): void {
    if (this.ids[i] === DEAD) return;
    this.ids[i] = DEAD;
    this.dead++;
  }

  /** Step the head over killed entries. */
  trim(): void {
    while (this.first < this.end && this.ids[this.first] === DEAD) {
      this.first++;
      this.dead--;
    }
  }

  /** Live entries. */
  get size(): number {
    return this.end - this.first - this.dead;
  }

  /** Compact in place when half the span is dead, or grow. */
  private makeRoom(): void {
    const live = this.end - this.first - this.dead;
    const capacity = live * 2 > this.ids.length ? this.ids.length * 2 : this.ids.length;
    const ids = capacity === this.ids.length ? this.ids : new Uint32Array(capacity);
    const ats = capacity === this.ats.length ? this.ats : new Float64Array(capacity);
    let w = 0;
    for (let r = this.first; r < this.end; r++) {
      const id = this.ids[r] as number;
      if (id === DEAD) continue;
      ids[w] = id;
      ats[w] = this.ats[r] as number;
      w++;
    }
    this.ids = ids;
    this.ats = ats;
    this.first = 0;
    this.end = w;
    this.dead = 0;
  }
}
