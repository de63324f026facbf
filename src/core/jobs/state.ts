// RFC 21 job states and results, and RFC 14/25 urgency and priority bounds: the numbers flux-core's clients send
// and print (states are bits, so a filter is a mask).
export const STATE_NEW = 1;
export const STATE_DEPEND = 2;
export const STATE_PRIORITY = 4;
export const STATE_SCHED = 8;
export const STATE_RUN = 16;
export const STATE_CLEANUP = 32;
export const STATE_INACTIVE = 64;
export const STATE_PENDING = STATE_DEPEND | STATE_PRIORITY | STATE_SCHED;
export const STATE_RUNNING = STATE_RUN | STATE_CLEANUP;
export const STATE_ACTIVE = STATE_PENDING | STATE_RUNNING;

/** the most jobs one purge request takes (flux-core's bound) */
export const PURGE_BATCH_MAX = 1000;

export const RESULT_COMPLETED = 1;
export const RESULT_FAILED = 2;
export const RESULT_CANCELED = 4;
export const RESULT_TIMEOUT = 8;

export const URGENCY_HOLD = 0;
export const URGENCY_DEFAULT = 16;
export const URGENCY_EXPEDITE = 31;
export const PRIORITY_MAX = 4294967295;

/** submit flags (job-ingest.submit) */
export const SUBMIT_WAITABLE = 4;

const STATE_NAMES: Record<number, string> = {
  [STATE_NEW]: 'NEW',
  [STATE_DEPEND]: 'DEPEND',
  [STATE_PRIORITY]: 'PRIORITY',
  [STATE_SCHED]: 'SCHED',
  [STATE_RUN]: 'RUN',
  [STATE_CLEANUP]: 'CLEANUP',
  [STATE_INACTIVE]: 'INACTIVE',
};

const RESULT_NAMES: Record<number, string> = {
  [RESULT_COMPLETED]: 'COMPLETED',
  [RESULT_FAILED]: 'FAILED',
  [RESULT_CANCELED]: 'CANCELED',
  [RESULT_TIMEOUT]: 'TIMEOUT',
};

export const stateName = (s: number): string => STATE_NAMES[s] ?? 'UNKNOWN';
export const resultName = (r: number): string => RESULT_NAMES[r] ?? '';

/** how an ended job ended: by its first fatal exception if it had one, else by its tasks' wait status */
export function resultOf(exception: { type: string; severity: number } | undefined, waitstatus: number | undefined): number {
  if (exception !== undefined && exception.severity === 0) {
    if (exception.type === 'cancel') return RESULT_CANCELED;
    if (exception.type === 'timeout') return RESULT_TIMEOUT;
    return RESULT_FAILED;
  }
  return waitstatus === 0 ? RESULT_COMPLETED : RESULT_FAILED;
}

/** a state name or a group (pending, running, active) as a mask; undefined if it names none */
export function stateMask(name: string): number | undefined {
  const n = name.toUpperCase();
  if (n === 'PENDING') return STATE_PENDING;
  if (n === 'RUNNING') return STATE_RUNNING;
  if (n === 'ACTIVE') return STATE_ACTIVE;
  const hit = Object.entries(STATE_NAMES).find(([, v]) => v === n);
  return hit ? Number(hit[0]) : undefined;
}

/** a result name as a mask; undefined if it names none */
export function resultMask(name: string): number | undefined {
  const hit = Object.entries(RESULT_NAMES).find(([, v]) => v === name.toUpperCase());
  return hit ? Number(hit[0]) : undefined;
}

/** the priority the default priority plugin gives an urgency: hold and expedite are the ends of the range */
export function priorityOf(urgency: number): number {
  if (urgency === URGENCY_HOLD) return 0;
  if (urgency === URGENCY_EXPEDITE) return PRIORITY_MAX;
  return urgency;
}
