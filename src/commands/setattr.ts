import { Flux } from '../api/handle.js';
import { setAttr } from '../api/attrs.js';
import { program, parse } from './common.js';

export async function run(args: string[]): Promise<number> {
  const p = program('setattr', 'Set broker attribute')
    .option('-f, --force', 'set the attribute even if it is not one a running broker may change')
    .argument('<name>', 'attribute name')
    .argument('<value>', 'new value');
  const code = parse(p, args);
  if (code !== undefined) return code;
  const [name, value] = p.args as [string, string];
  const force = p.opts<{ force?: boolean }>().force === true;
  const h = await Flux.open();
  try {
    await setAttr(h, name, value, { force });
    return 0;
  } catch (err) {
    process.stderr.write(`flux-setattr: ${name}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    h.close();
  }
}
