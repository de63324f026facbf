// bin/flux compiles its bundles from the V8 code cache the build writes beside them, the broker's included (each
// broker of an instance would otherwise compile 600 KB of source at start, and every function its start runs), and
// a cache V8 refuses costs only the compile it would have saved.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/instance.js';

const CLI = join(ROOT, 'dist', 'cli');
const wrap = (text: string) => (Module as unknown as { wrap(s: string): string }).wrap(text);
/** the source of `file` as bin/flux compiles it: wrapped as Node wraps a CommonJS module (the bundles are stored so) */
const wrapped = (file: string) => (file.startsWith(CLI) ? readFileSync(file, 'utf8') : wrap(readFileSync(file, 'utf8')));

/** whether V8 takes `file`'s cache for the source bin/flux compiles */
function accepted(file: string): boolean {
  const script = new Script(wrapped(file), { filename: file, cachedData: readFileSync(`${file}.cache`) });
  return !script.cachedDataRejected;
}

describe('code caches of the bundles', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('are written for the dispatcher, every command that does not import(), and the broker, and V8 takes them', () => {
    const files = readdirSync(CLI);
    const bundles = files.filter((f) => f.endsWith('.cjs'));
    const cached = bundles.filter((f) => files.includes(`${f}.cache`));
    expect(cached).toContain('flux.cjs');
    expect(cached).toContain('broker-main.cjs');
    expect(cached).toContain('getattr.cjs');
    // a file left without one imports by itself, which code from a cache cannot
    for (const f of bundles.filter((b) => !cached.includes(b))) expect(readFileSync(join(CLI, f), 'utf8')).toMatch(/\bimport\(/);
    for (const f of cached) expect(accepted(join(CLI, f)), f).toBe(true);
  });

  it('go with bundles stored wrapped as Node wraps a module, so that bin/flux compiles their text as it is', () => {
    const [head] = wrap('\0').split('\0');
    const files = readdirSync(CLI);
    for (const f of files.filter((b) => b.endsWith('.cjs'))) {
      expect(readFileSync(join(CLI, f), 'utf8').startsWith(head!), f).toBe(files.includes(`${f}.cache`));
    }
  });

  it('are written for the validators the build makes of the brokers\' schemas, and V8 takes it', () => {
    expect(accepted(join(ROOT, 'dist', 'validators.cjs'))).toBe(true);
  });

  it('the broker\'s holds what a leaf compiled in its life (the build runs one), not only the top level', () => {
    const file = join(CLI, 'broker-main.cjs');
    const topLevel = new Script(wrapped(file), { filename: file });
    expect(readFileSync(`${file}.cache`).length).toBeGreaterThan(2 * topLevel.createCachedData().length);
  });

  it('the commonest commands\' hold what a run of them compiled (the build runs each once), not only the top level', () => {
    for (const name of ['getattr', 'kvs']) {
      const file = join(CLI, `${name}.cjs`);
      const topLevel = new Script(wrapped(file), { filename: file });
      expect(readFileSync(`${file}.cache`).length, name).toBeGreaterThan(2 * topLevel.createCachedData().length);
    }
  });

  /**
   * A copy of the command with its own dist/cli holding `files`, each bundle with the cache `cacheOf` gives (none
   * for null, the repository's for undefined); the rest is the repository's. Runs `flux start --test-size=2 flux
   * getattr size` there.
   */
  async function startCopy(files: string[], cacheOf: (f: string) => Buffer | null | undefined) {
    const root = mkdtempSync(join(tmpdir(), 'flux-code-cache-'));
    dirs.push(root);
    mkdirSync(join(root, 'bin'));
    for (const f of ['flux', 'package.json']) copyFileSync(join(ROOT, 'bin', f), join(root, 'bin', f));
    mkdirSync(join(root, 'dist', 'cli'), { recursive: true });
    for (const f of files) {
      copyFileSync(join(CLI, f), join(root, 'dist', 'cli', f));
      const cache = cacheOf(f);
      if (cache) writeFileSync(join(root, 'dist', 'cli', `${f}.cache`), cache);
      else if (cache === undefined && f.endsWith('.cjs')) copyFileSync(join(CLI, `${f}.cache`), join(root, 'dist', 'cli', `${f}.cache`));
    }
    for (const f of ['node_modules', 'package.json', 'lib']) symlinkSync(join(ROOT, f), join(root, f));
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [join(root, 'bin', 'flux'), 'start', '--test-size=2', 'flux', 'getattr', 'size'],
        { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }));
    });
  }

  it('refused by V8 or missing, cost only the compile: an instance whose caches are garbage starts and answers', async () => {
    // every cache garbage but getattr's, which is gone; no table of commands, so the dispatcher runs each
    const garbage = Buffer.alloc(4096, 0x5a);
    // ajv's file beside the broker's: the copy has none of the build's validators, so its brokers compile with ajv
    const out = await startCopy(['flux.cjs', 'start.cjs', 'broker-main.cjs', 'ajv.cjs', 'getattr.cjs'], (f) => (f === 'getattr.cjs' ? null : garbage));
    expect(out.stderr).toBe('');
    expect(out).toMatchObject({ code: 0, stdout: '2\n' });
  });

  it("the build's table of commands names every command of the command table, each a file that runs it", async () => {
    const { COMMANDS } = await import('../../src/command-table.js');
    const files = JSON.parse(readFileSync(join(CLI, 'commands.json'), 'utf8')) as Record<string, string>;
    expect(Object.keys(files).sort()).toEqual(Object.keys(COMMANDS).sort());
    // each file evaluated as bin/flux evaluates it (stored wrapped, or plain where it imports), in a process of its own
    const script = `const { readFileSync } = require('node:fs'); const Module = require('node:module');
      const { runInThisContext } = require('node:vm'); const { dirname } = require('node:path');
      const [head] = Module.wrap('\\0').split('\\0');
      const kinds = {};
      for (const [name, file] of Object.entries(${JSON.stringify(files)})) {
        const path = ${JSON.stringify(CLI)} + '/' + file;
        const text = readFileSync(path, 'utf8');
        const m = { exports: {} };
        if (!text.startsWith(head)) m.exports = require(path);
        else runInThisContext(text, { filename: path }).call(m.exports, m.exports, Module.createRequire(path), m, path, dirname(path));
        kinds[name] = typeof m.exports.runCommand;
      }
      process.stdout.write(JSON.stringify(kinds));`;
    const kinds = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['-e', script], { timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    expect(Object.values(JSON.parse(kinds) as Record<string, string>).every((k) => k === 'function')).toBe(true);
  });

  it("bin/flux runs a command from its own file, named in the build's table, without the dispatcher's", async () => {
    const out = await startCopy(['commands.json', 'start.cjs', 'broker-main.cjs', 'ajv.cjs', 'getattr.cjs'], () => undefined);
    expect(out.stderr).toBe('');
    expect(out).toMatchObject({ code: 0, stdout: '2\n' });
  });
});
