// Bundles what `bin/flux` runs into dist/cli/: flux.cjs (the dispatcher and the command table) and one CommonJS
// file per command holding everything that command imports, commander included. A short command then costs Node
// one file to read and compile instead of a graph of ES modules to resolve, link and instantiate: that, not the
// command's own work, was most of what a command took beyond Node's own start. The dispatcher requires a
// command's file only when it runs. Native modules and libraries loaded on first use stay in node_modules.
// Modules that find files from import.meta.url sit two levels below the root in dist/, and so do these files.
import { build } from 'esbuild';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { Script } from 'node:vm';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const outdir = join(dist, 'cli');

/** the name of the file a command module becomes: commands/kvs -> kvs, broker/main -> broker-main */
const fileOf = (path) => path.replace(/^commands\//, '').replace('/', '-');
/** the modules the command table loads */
const table = readFileSync(join(dist, 'command-table.js'), 'utf8');
const commands = [...table.matchAll(/import\('\.\/([\w/-]+)\.js'\)/g)].map(([, path]) => path);

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [
    { in: join(dist, 'cli.js'), out: 'flux' },
    ...commands.map((path) => ({ in: join(dist, `${path}.js`), out: fileOf(path) })),
  ],
  outdir,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['zeromq', 'better-sqlite3', 'koffi', 'lz4', 'ajv', 'smol-toml'],
  inject: [join(root, 'scripts', 'import-meta-url.js')],
  define: { 'import.meta.url': 'importMetaUrl' },
  plugins: [{
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
  logLevel: 'warning',
});

// what bin/flux compiles each file from: V8's code for the file's top level, so that Node need not parse it again.
// Code compiled that way cannot import() (the broker's plug-in modules, keygen's zeromq): those files get none.
for (const file of readdirSync(outdir).filter((f) => f.endsWith('.cjs'))) {
  const path = join(outdir, file);
  const source = readFileSync(path, 'utf8');
  if (/\bimport\(/.test(source)) continue;
  writeFileSync(`${path}.cache`, new Script(Module.wrap(source), { filename: path }).createCachedData());
}
