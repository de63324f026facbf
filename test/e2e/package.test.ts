// The package as a user gets it: the tarball `npm pack` makes, unpacked into an empty project, imported as
// `flux-ts` by a JavaScript program and type-checked in a TypeScript one; and the programs of examples/, run against
// a real size-4 instance. The tarball's dependencies are the ones this checkout has installed (linked into the
// project): what is checked is the package itself (its files, its exports map, its types), not the registry.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startInstance, type Instance } from '../helpers/instance.js';

const exec = promisify(execFile);

async function node(args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(process.execPath, args, { cwd, env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('the packed library and the examples against a size-4 instance', () => {
  let inst: Instance;
  let project: string;
  const env = () => ({ FLUX_URI: inst.uri });

  beforeAll(async () => {
    inst = await startInstance(4);
    project = mkdtempSync(join(tmpdir(), 'flux-ts-app-'));
  });

  afterAll(async () => {
    if (project) rmSync(project, { recursive: true, force: true });
    expect(await inst?.stop()).toBe(0);
  });

  it('runs examples/kvs-watch.mjs: history replayed, then live changes', async () => {
    const r = await node([join(ROOT, 'examples', 'kvs-watch.mjs'), 'ex.watch'], env());
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 5)).toEqual(['ex.watch = 0', 'ex.watch = 1', 'ex.watch = 2', 'ex.watch = 3', 'log: "2\\n3\\n"']);
    expect(lines.slice(5)).toEqual([expect.stringMatching(/^at version \d+: 0$/), '']);
    expect((await inst.flux(['kvs', 'get', 'ex.watch'])).stdout).toBe('3\n');
  });

  it('runs examples/events-history.mjs: the journal\'s events, then a live one', async () => {
    const r = await node([join(ROOT, 'examples', 'events-history.mjs')], env());
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual(['0: example.greeting {"text":"hello"}', '1: example.greeting {"text":"again"}']);
    expect(lines[2]).toMatch(/^\d+: example\.farewell \{"text":"live"\}$/);
  });

  it('runs examples/ranks.mjs: every rank answers and runs a command', async () => {
    const r = await node([join(ROOT, 'examples', 'ranks.mjs')], env());
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(['rank 0: ran a shell', 'rank 1: ran a shell', 'rank 2: ran a shell', 'rank 3: ran a shell',
      'nosuch.service: errno 38 (No service matching nosuch.service is registered)', ''].join('\n'));
  });

  it('installs from the packed tarball into an empty project, where a program imports flux-ts', async () => {
    const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', project], { cwd: ROOT });
    const [{ filename }] = JSON.parse(stdout) as Array<{ filename: string }>;
    const pkg = join(project, 'node_modules', 'flux-ts');
    mkdirSync(pkg, { recursive: true });
    await exec('tar', ['xzf', join(project, filename), '-C', pkg, '--strip-components=1']);
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const dep of [...Object.keys(manifest.dependencies), '@types/node']) {
      mkdirSync(join(project, 'node_modules', dep, '..'), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', dep), join(project, 'node_modules', dep));
    }
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));
    writeFileSync(join(project, 'app.mjs'), [
      "import { connect, FluxError } from 'flux-ts';",
      'const h = await connect(process.argv[2]);',
      "await h.kvs.put('app.key', { from: 'the tarball' });",
      "const v = await h.kvs.get('app.key');",
      "const err = await h.kvs.get('app.missing').catch((e) => e);",
      'console.log(JSON.stringify(v), err instanceof FluxError, err.errno);',
      'h.close();',
    ].join('\n'));
    const r = await node(['app.mjs', inst.uri], {}, project);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('{"from":"the tarball"} true 2\n');
    expect((await inst.flux(['kvs', 'get', 'app.key'])).stdout).toBe('{"from":"the tarball"}\n');
    // only the entry is exported: the package's insides are not reachable by path
    const deep = await node(['-e', "import('flux-ts/dist/api/kvs.js')"], {}, project);
    expect(deep.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);

    // the generated declarations type a TypeScript program, and refuse a wrong one
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, types: ['node'] },
    }));
    writeFileSync(join(project, 'app.ts'), [
      "import { connect, type Flux, type CommitResult } from 'flux-ts';",
      'const h: Flux = await connect();',
      "const r: CommitResult = await h.kvs.commit(h.kvs.txn().put('a', 1).unlink('b'), { flags: 0 });",
      "for await (const ev of h.events.subscribe('x', { from: r.rootseq })) console.log(ev.topic, ev.seq);",
      "const id: number = await h.jobs.submit({ command: ['true'], ntasks: 1 });",
      'console.log(id); h.close();',
    ].join('\n'));
    const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
    await expect(exec(tsc, ['-p', project], { cwd: project })).resolves.toBeDefined();
    writeFileSync(join(project, 'app.ts'), "import { connect } from 'flux-ts';\nconst h = await connect();\nawait h.kvs.put(1, 2);\n");
    const wrong = await exec(tsc, ['-p', project], { cwd: project }).catch((e: { stdout: string }) => e);
    expect((wrong as { stdout: string }).stdout).toMatch(/app\.ts.*TS2345/);
  });
});
