// A point in time as commands take it (--at-time): seconds since the epoch, or an ISO-8601 date and
// time. undefined when the text is neither: each command says so in its own words.
export function parseTimeArg(text: string): number | undefined {
  if (/^\d+(\.\d*)?$/.test(text)) return Number(text);
  const ms = /^\d{4}-\d\d-\d\d/.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(ms) ? undefined : ms / 1000;
}
