// Loaded with `node --require` (NODE_OPTIONS) into a flux command by bench/cli-inner.mjs: writes to fd 3 the
// milliseconds from bin/flux's first line to the process's 'exit', which leaves out Node's own start and teardown,
// the larger and noisier part of a whole command's wall time on a shared machine.
'use strict';
const { performance } = require('node:perf_hooks');
const { writeSync } = require('node:fs');
// not require('node:module'), which loads the ES module loader: commands no longer do, and the timing would carry it
const Module = module.constructor;
const load = Module._load;
let start;
Module._load = function timedLoad(request, ...rest) {
  if (start === undefined && /[\\/]bin[\\/]flux$/.test(request)) start = performance.now();
  return load.call(this, request, ...rest);
};
process.on('exit', () => writeSync(3, `${(performance.now() - start).toFixed(3)}\n`));
