import type { Millis } from '../core/time.js';

/**
 * The virtual clock: a priority queue of callbacks by time, ties broken by insertion order so a
 * run is deterministic. Time advances only by running events.
 */
interface Entry { readonly at: Millis; readonly id: number; readonly run: () => void }

export class EventQueue {
  private heap: Entry[] = [];
  private nextId = 1;
  private readonly cancelled = new Set<number>();
  private current: Millis = 0;

  get now(): Millis { return this.current; }

  /** Schedules `run` at time `at` (not before now); returns an id for cancel(). */
  at(at: Millis, run: () => void): number {
    const id = this.nextId++;
    this.push({ at: Math.max(at, this.current), id, run });
    return id;
  }

  cancel(id: number): void { this.cancelled.add(id); }

  runUntil(until: Millis): void {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.at > until) break;
      this.pop();
      this.current = top.at;
      if (this.cancelled.delete(top.id)) continue;
      top.run();
    }
    this.current = Math.max(this.current, until);
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.id < b.id);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent];
      if (p === undefined || !this.less(e, p)) break;
      h[i] = p;
      h[parent] = e;
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      const hl = h[l];
      const hr = h[r];
      const hm = (): Entry => h[m] as Entry;
      if (hl !== undefined && this.less(hl, hm())) m = l;
      if (hr !== undefined && this.less(hr, hm())) m = r;
      if (m === i) break;
      const tmp = h[i] as Entry;
      h[i] = hm();
      h[m] = tmp;
      i = m;
    }
  }
}
