import { Flux } from '../api/handle.js';
import { getAttr } from '../api/attrs.js';
import { program, parse } from './common.js';

export async function run(args: string[]): Promise<number> {
  const p = program('getattr', 'Get broker attribute').argument('<name>', 'attribute name');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const name = p.args[0]!;
  const h = await Flux.open();
  try {
    process.stdout.write(`${await getAttr(h, name)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`flux-getattr: ${name}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    h.close();
  }
}
