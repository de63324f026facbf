// npm run bench [-- FILTER]: runs every bench/*.bench.mjs whose name contains FILTER; each prints JSON lines
// {"bench":NAME,"value":N,"unit":U,...}. Timing never decides a test: these are figures to read and compare.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2] ?? '';
const files = readdirSync(here).filter((f) => f.endsWith('.bench.mjs') && f.includes(filter)).sort();
let failed = 0;
for (const f of files) {
  const r = spawnSync(process.execPath, [join(here, f), filter], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    failed++;
    process.stdout.write(`${JSON.stringify({ bench: f, error: `exit ${r.status ?? r.signal}` })}\n`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
