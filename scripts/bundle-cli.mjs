// Bundles what `bin/flux` runs into dist/cli/: flux.cjs (the dispatcher and the command table), one CommonJS
// file per command holding everything that command imports, commander included, and commands.json, which names
// each command's file. A short command then costs Node one file to read and compile instead of a graph of ES
// modules to resolve, link and instantiate: that, not the command's own work, was most of what a command took
// beyond Node's own start. bin/flux requires a command's file only when it runs, and the dispatcher only for what
// is not a command (help, an unknown name). Native modules and libraries loaded on first use stay in node_modules.
// Modules that find files from import.meta.url sit two levels below the root in dist/, and so do these files.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import Module from 'node:module';
import { Script } from 'node:vm';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RECORD_SCHEMAS } from '../dist/core/validate.js';
import { shellQuote } from '../dist/transport/ssh-connector.js';
import { validatorFiles } from './validators.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const outdir = join(dist, 'cli');

/** the name of the file a command module becomes: commands/kvs -> kvs, broker/main -> broker-main */
const fileOf = (path) => path.replace(/^commands\//, '').replace('/', '-');
/** the modules the command table loads */
const table = readFileSync(join(dist, 'command-table.js'), 'utf8');
const commands = [...table.matchAll(/import\('\.\/([\w/-]+)\.js'\)/g)].map(([, path]) => path);

const BROKER = 'broker/main';
/**
 * A command's bundle holds its module and the way flux runs every command (src/command-run.ts), so that bin/flux
 * runs it without the dispatcher's file: reading and compiling that, and the command table in it, was ~2 ms of a
 * `flux getattr rank` (measured).
 */
const commandEntry = {
  name: 'command-entry',
  setup(b) {
    b.onResolve({ filter: /^flux-command:/ }, (args) => ({ path: args.path.slice('flux-command:'.length), namespace: 'flux-command' }));
    b.onLoad({ filter: /.*/, namespace: 'flux-command' }, (args) => ({
      contents: `export * from ${JSON.stringify(join(dist, `${args.path}.js`))};\n`
        + `export { runCommand } from ${JSON.stringify(join(dist, 'command-run.js'))};\n`,
      resolveDir: dist,
      loader: 'js',
    }));
  },
};
const entryOf = (path) => ({ in: `flux-command:${path}`, out: fileOf(path) });
/** the global symbol's key under which bin/flux lends the bundled broker its import() */
const LENT_IMPORT = 'flux-ts.import';
/** packages left in node_modules: native ones, and those a file loads on first use only */
const EXTERNAL = ['zeromq', 'better-sqlite3', 'koffi', 'lz4', 'ajv', 'smol-toml'];

rmSync(outdir, { recursive: true, force: true });
/** how every file here is made */
const COMMON = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // names kept (stack traces, error messages name functions and classes); the whitespace and comments removed are
  // a third of the text that each process reads, and that each broker keeps in memory for V8's lazy compiles
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
};
const options = {
  ...COMMON,
  outdir,
  outExtension: { '.js': '.cjs' },
  external: EXTERNAL,
  inject: [join(root, 'scripts', 'import-meta-url.js')],
  define: { 'import.meta.url': 'importMeta.url' },
  plugins: [{
    // Our modules import createRequire from node:module to load a package on first use, and call it only as
    // createRequire(import.meta.url): in a bundle that is the bundle's own require. zeromq's addon loader
    // (cmake-ts) requires the module too, for a createRequire it calls only where there is no require, and koffi's
    // loader for createRequire(__filename), which in a bundle is the bundle's require again. Requiring
    // node:module costs a process 0.5-1 ms (it loads the ES module loader with it; measured), which every command
    // and broker paid at load. The build fails if any of these uses changes.
    name: 'own-require',
    setup(b) {
      const users = [
        { importer: /[\\/]dist[\\/]/, specifier: 'node:module', only: /\bcreateRequire\((?!import\.meta\.url\))|\bfrom 'node:module'(?<!import \{ createRequire \} from 'node:module')/ },
        { importer: /[\\/]cmake-ts[\\/]build[\\/]loader\.js$/, specifier: 'module', only: /\bg\.(?!createRequire\()|\bg=require\("module"\)(?![\s\S]*typeof require=="function"\?require:g\.createRequire\()/ },
        { importer: /[\\/]koffi[\\/]src[\\/]koffi[\\/]index\.cjs$/, specifier: 'node:module', only: /\bimport_node_module\.(?!createRequire\)\(__filename\))/ },
      ];
      b.onResolve({ filter: /^(node:)?module$/ }, (args) => {
        const user = users.find((u) => u.importer.test(args.importer) && u.specifier === args.path);
        return user && { path: args.importer, namespace: 'own-require', pluginData: user };
      });
      b.onLoad({ filter: /.*/, namespace: 'own-require' }, (args) => {
        if (args.pluginData.only.test(readFileSync(args.path, 'utf8'))) {
          throw new Error(`${args.path}: uses ${args.pluginData.specifier} other than for its own require`);
        }
        return { contents: 'export const createRequire = () => require;', loader: 'js' };
      });
    },
  }, {
    // commander requires node:child_process at load for executable subcommands, which flux does not use: the
    // module (and dgram, which it loads) is required only if something of it is used
    name: 'lazy-child-process',
    setup(b) {
      b.onResolve({ filter: /^node:child_process$/ }, (args) => (/[\\/]commander[\\/]/.test(args.importer)
        ? { path: 'lazy-child-process', namespace: 'lazy' } : undefined));
      b.onLoad({ filter: /.*/, namespace: 'lazy' }, () => ({
        contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
        loader: 'js',
      }));
    },
  }, {
    // the command table's loaders (which help uses too) require the command's own file, not a copy in this one
    name: 'one-file-per-command',
    setup(b) {
      b.onResolve({ filter: /^\.\/[\w-]+\.cjs$/ }, (args) => ({ path: args.path, external: true }));
      b.onLoad({ filter: /[\\/]command-table\.js$/ }, (args) => ({
        contents: readFileSync(args.path, 'utf8').replace(/import\('\.\/([\w/-]+)\.js'\)/g,
          (_, path) => `Promise.resolve().then(() => require('./${fileOf(path)}.cjs'))`),
        loader: 'js',
      }));
    },
  }],
};
await build({
  ...options,
  entryPoints: [
    { in: join(dist, 'cli.js'), out: 'flux' },
    ...commands.filter((path) => path !== BROKER).map(entryOf),
  ],
  plugins: [...options.plugins, commandEntry],
});
// which file runs each command, for bin/flux: what the command table's loaders name
const { COMMANDS } = await import('../dist/command-table.js');
const files = Object.fromEntries(Object.entries(COMMANDS).map(([name, { load }]) => {
  const [, path] = /import\('\.\/([\w/-]+)\.js'\)/.exec(load.toString()) ?? [];
  if (path === undefined) throw new Error(`the command table's loader of ${name} names no module`);
  return [name, `${fileOf(path)}.cjs`];
}));
writeFileSync(join(outdir, 'commands.json'), `${JSON.stringify(files)}\n`);
// Packages the broker carries in its own bundle, each loaded by one file with the expression below, which the bundle
// turns into a plain require (of `to`, where given). ajv goes to a file of its own beside the bundle (below): a
// broker validates with the validators the build makes (dist/validators.cjs) and needs ajv only for a schema that is
// not there (a plug-in module's), while in the bundle its 178 KB were read, and kept as source, by every broker at
// every start. Rank 0 opens the content store as it starts: better-sqlite3's 13 files cost a process 7-10 ms to
// find, read and compile (measured); in the bundle they come from its code cache. Every broker loads zeromq as it
// starts: from node_modules 7 files, among them cmake-ts's loader of the addon, 13.8-18.6 ms to the addon loaded,
// against 7.7-10.8 bundled (eight processes each, measured). Each stays lazy there: esbuild evaluates a required
// CommonJS package on its first require. better-sqlite3 is given its addon's path (src/core/content/store.ts), so
// the `bindings` package it would otherwise search with is left out; zeromq's loader looks for its addons beside
// the package, found at run time, not beside the file that holds it (ZMQ_BUILD_DIR below). A broker loads koffi at
// its first local connection, to read the client's credentials: from node_modules the peer-credential check took
// 14-22 ms of that first accept, bundled 8-12 (four instances each, measured); koffi's platform package, its loader
// and addon, stays outside (an external `@koromix/*`) and finds its addon beside itself.
const AJV_FILE = 'ajv.cjs';
const IN_BROKER_BUNDLE = [
  { file: /[\\/]core[\\/]validate\.js$/, pkg: 'ajv', to: `./${AJV_FILE}` },
  { file: /[\\/]core[\\/]content[\\/]store\.js$/, pkg: 'better-sqlite3' },
  { file: /[\\/]transport[\\/]overlay\.js$/, pkg: 'zeromq' },
  { file: /[\\/]transport[\\/]peercred\.js$/, pkg: 'koffi' },
  { file: /[\\/]transport[\\/]pmi-dl\.js$/, pkg: 'koffi' },
];
const ZMQ_BUILD_DIR = {
  file: /[\\/]zeromq[\\/]lib[\\/]load-addon\.js$/,
  from: 'path_1.default.resolve(__dirname, "..", "build")',
  to: "path_1.default.join(path_1.default.dirname(require.resolve('zeromq/package.json')), 'build')",
};
await build({
  ...options,
  entryPoints: [entryOf(BROKER)],
  // what the bundled packages only name at run time: the addon search left out, where zeromq's addons are, koffi's
  // platform package
  external: [...EXTERNAL.filter((name) => !IN_BROKER_BUNDLE.some((p) => p.pkg === name)), 'bindings', 'zeromq/package.json', '@koromix/*'],
  plugins: [...options.plugins, commandEntry, ...IN_BROKER_BUNDLE.map(({ file, pkg, to = pkg }) => ({
    name: `${pkg}-in-bundle`,
    setup(b) {
      b.onLoad({ filter: file }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        const load = `createRequire(import.meta.url)('${pkg}')`;
        if (!source.includes(load)) throw new Error(`${args.path} no longer loads ${pkg} as ${load}`);
        return { contents: source.replace(load, `require('${to}')`), loader: 'js' };
      });
    },
  })), {
    name: 'zeromq-build-dir',
    setup(b) {
      b.onLoad({ filter: ZMQ_BUILD_DIR.file }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes(ZMQ_BUILD_DIR.from)) throw new Error(`${args.path} no longer finds its addons as ${ZMQ_BUILD_DIR.from}`);
        return { contents: source.replace(ZMQ_BUILD_DIR.from, ZMQ_BUILD_DIR.to), loader: 'js' };
      });
    },
  }, {
    name: 'lent-import',
    setup(b) {
      b.onLoad({ filter: /[\\/]broker[\\/]import-file\.js$/ }, () => ({
        contents: `export const importFile = (url) => {
  const lent = globalThis[Symbol.for('${LENT_IMPORT}')];
  if (typeof lent !== 'function') throw new Error('the bundled broker imports through bin/flux, which runs it');
  return lent(url);
};`,
        loader: 'js',
      }));
    },
  }],
});

// ajv as one file: from node_modules, a plug-in module's first validated request cost rank 0 ~6 MiB and ~65 ms more
// than from this file with the cache the build's instance writes (bin/flux; measured)
await build({
  ...COMMON,
  stdin: { contents: "module.exports = require('ajv');", resolveDir: root, loader: 'js' },
  outfile: join(outdir, AJV_FILE),
});

// what bin/flux compiles each file from: V8's code for the file's top level, so that Node need not parse it again.
// Code compiled that way cannot import(): a file that still does (keygen's zeromq) gets none. The broker imports
// plug-in modules through the import bin/flux lends it (src/broker/import-file.ts), so it has one: each broker of
// an instance would otherwise compile the whole bundle at start.
// Such a file is stored as Node would wrap it, so bin/flux compiles its text as it is read: wrapping it there made
// a second copy of it, which in `flux kvs put` was enough to bring on a young-generation collection (measured).
for (const file of readdirSync(outdir).filter((f) => f.endsWith('.cjs'))) {
  const path = join(outdir, file);
  const source = readFileSync(path, 'utf8');
  if (/\bimport\(/.test(source)) continue;
  const wrapped = Module.wrap(source);
  writeFileSync(path, wrapped);
  writeFileSync(`${path}.cache`, new Script(wrapped, { filename: path }).createCachedData());
}

// The build's cache holds the top level only: every function a broker runs at start is still compiled in each
// broker. A leaf of a size-2 instance, run once here, writes the cache again as it exits with all it compiled by
// then (bin/flux), ~25 ms of CPU less per broker at start (measured). Rank 0 compiles its own share (sqlite, the
// journal) as before. A run that fails leaves the top-level cache, which works, and says why.
//
// The instance's initial program runs the commonest short commands once, each writing its bundle's cache, and
// the dispatcher's, the same way: ~2.5 ms less of a `flux getattr rank` that costs ~13 ms beyond Node's own
// start (measured; for `flux run true` 0.94x, `flux jobs -a` 0.97x, `flux submit` 0.98x, medians of 20 pairs). A
// command that fails there keeps its top-level cache and is named below.
//
// The same run records every schema its brokers compile, and dist/validators.cjs is made of them
// (src/core/validate.ts): brokers then validate without loading ajv.
const WARM_COMMANDS = [
  ['getattr', 'rank'], ['lsattr', '-v'], ['setattr', 'log-stderr-level', '1'], ['kvs', 'put', 'build.warm=1'],
  ['kvs', 'get', 'build.warm'], ['kvs', 'ls', '-R', 'build'], ['ping', '-c', '1', '1'], ['logger', 'build'],
  ['dmesg'], ['event', 'pub', 'build.warm'], ['module', 'list'], ['exec', '-r', 'all', 'true'],
  ['submit', 'true'], ['run', 'true'], ['jobs', '-a'], ['job', 'last'],
];
const flux = join(root, 'bin', 'flux');
const warmCommands = WARM_COMMANDS.map((argv) => {
  const line = [process.execPath, flux, ...argv].map(shellQuote).join(' ');
  return `FLUX_BUILD_WARM_CACHE_COMMAND=1 ${line} >/dev/null 2>&1 || echo ${shellQuote(`flux ${argv.join(' ')}`)} >&2`;
}).join('\n');
const broker = join(outdir, `${fileOf(BROKER)}.cjs`);
// a build before's validators go first, so that the instance compiles every schema it records with ajv, and the
// rank that writes the broker's cache writes ajv's too
const validators = join(dist, 'validators.cjs');
rmSync(validators, { force: true });
rmSync(`${validators}.cache`, { force: true });
rmSync(join(dist, 'validators'), { recursive: true, force: true });
const recordDir = mkdtempSync(join(tmpdir(), 'flux-build-schemas-'));
const record = join(recordDir, 'schemas');
// its brokers leave V8's flags as the build's caches were made under: one set at run time would stamp the caches
// they write as they exit (src/broker/heap-growth.ts)
const warm = spawnSync(process.execPath, [flux, 'start', '--size', '2', '-Sbroker.heap-growing-percent=0', 'sh', '-c', warmCommands], {
  env: { ...process.env, FLUX_BUILD_WARM_CACHE_RANK: '1', [RECORD_SCHEMAS]: record }, encoding: 'utf8', timeout: 60_000,
});
if (warm.status === 0 && warm.stderr.length > 0) {
  process.stderr.write(`bundle-cli: these commands failed in the build's instance and keep their top-level cache:\n${warm.stderr}`);
}
const schemas = existsSync(record) ? readFileSync(record, 'utf8').split('\n').filter((l) => l.length > 0) : [];
rmSync(recordDir, { recursive: true, force: true });
if (schemas.length > 0) {
  const { index, files } = validatorFiles(schemas);
  mkdirSync(join(dist, 'validators'));
  for (const { name, text } of files) writeFileSync(join(dist, name), text);
  writeFileSync(validators, index);
  // its top level parsed ahead as the bundles' are: the first request a broker validates then costs less
  writeFileSync(`${validators}.cache`, new Script(Module.wrap(index), { filename: validators }).createCachedData());
}
const source = readFileSync(broker, 'utf8');
const taken = !new Script(source, { filename: broker, cachedData: readFileSync(`${broker}.cache`) }).cachedDataRejected;
if (warm.status !== 0 || !taken) {
  process.stderr.write(`bundle-cli: the broker's cache keeps its top level only: flux start exited ${warm.status ?? warm.signal}${taken ? '' : ', its cache was refused'} ${warm.stderr ?? ''}\n`);
  writeFileSync(`${broker}.cache`, new Script(source, { filename: broker }).createCachedData());
}
