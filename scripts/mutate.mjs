// npm run mutate [-- GROUP...]: mutation testing of the spine (stryker.config.mjs), one group of files after
// another; each group's HTML and JSON reports go to reports/mutation/, and one JSON line per group gives its
// score and how long it took: {"bench":"mutation","group":G,"value":SCORE,"unit":"%",...}.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GROUPS } from '../stryker.config.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const asked = process.argv.slice(2);
for (const g of asked) if (!(g in GROUPS)) throw new Error(`no mutation group ${g} (groups: ${Object.keys(GROUPS).join(', ')})`);
const groups = asked.length > 0 ? asked : Object.keys(GROUPS);
const DETECTED = new Set(['Killed', 'Timeout']);
const COUNTED = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage']);
let below = 0;
for (const group of groups) {
  const t0 = Date.now();
  // a test a mutant makes fail or time out may leave its temporary files: they go with this directory
  const tmp = mkdtempSync(join(tmpdir(), 'flux-mutate-'));
  const r = spawnSync(process.execPath, [join(root, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js'), 'run'], {
    cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, MUTATE_GROUP: group, TMPDIR: tmp },
  });
  rmSync(tmp, { recursive: true, force: true });
  const seconds = (Date.now() - t0) / 1000;
  if (r.status !== 0) {
    process.stdout.write(`${JSON.stringify({ bench: 'mutation', group, error: `stryker exit ${r.status ?? r.signal}`, seconds })}\n`);
    below++;
    continue;
  }
  const report = JSON.parse(readFileSync(join(root, 'reports', 'mutation', `${group}.json`), 'utf8'));
  const count = {};
  for (const f of Object.values(report.files)) for (const m of f.mutants) count[m.status] = (count[m.status] ?? 0) + 1;
  const detected = Object.entries(count).filter(([s]) => DETECTED.has(s)).reduce((a, [, n]) => a + n, 0);
  const valid = Object.entries(count).filter(([s]) => COUNTED.has(s)).reduce((a, [, n]) => a + n, 0);
  const score = valid === 0 ? 100 : (100 * detected) / valid;
  if (score < 85) below++;
  process.stdout.write(`${JSON.stringify({ bench: 'mutation', group, value: Number(score.toFixed(2)), unit: '%', ...count, seconds })}\n`);
}
process.exitCode = below > 0 ? 1 : 0;
