// The projections every broker applies to the journal, in order. An offline replay applies this same list, so
// a past state read from a stopped instance is built by the code that built it live.
import type { Projection } from './projection.js';
import { proctableProjection } from './proctable.js';
import { kvsProjection } from './kvs.js';
import { cronProjection } from './cron.js';
import { jobsProjection } from './jobs.js';
import { usersProjection } from './users.js';

export const PROJECTIONS: Projection[] = [
  proctableProjection as Projection, kvsProjection as Projection, cronProjection as Projection, jobsProjection as Projection,
  usersProjection as Projection,
];
