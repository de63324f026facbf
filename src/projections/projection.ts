// A projection: a pure function from (state, journal entry) to state. No clocks, randomness or I/O: time comes
// from the entry, so replaying the journal anywhere rebuilds the same state.
import type { Entry } from '../core/journal/entry.js';

export interface Projection<S = unknown> {
  name: string;
  initial(): S;
  apply(state: S, entry: Entry, ref: string): S;
  /** the state as plain JSON for a snapshot, and back */
  save(state: S): unknown;
  load(saved: unknown): S;
}
