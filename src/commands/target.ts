// What flux uri and flux proxy take as a target: a local:// or ssh:// URI as it is, or a job id ("jobid:ƒID" too)
// as the URI of the Flux instance the job runs, asked of the instance FLUX_URI names.
import { jobTarget, resolveTarget } from '../core/wire/uri.js';

export async function targetUri(target: string): Promise<string> {
  const id = jobTarget(target);
  if (id === undefined) return resolveTarget(target);
  // loaded only for a job id: a URI given as it is needs no connection
  const [{ withHandle }, { jobUri }] = await Promise.all([import('../api/handle.js'), import('../api/jobs.js')]);
  return withHandle((h) => jobUri(h, id));
}
