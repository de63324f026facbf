// Loaded with `node --require` (NODE_OPTIONS, which refuses --cpu-prof) into each broker of an instance that
// bench/profile.mjs starts: profiles the process from its start and writes PROFILE_OUT/<pid>.cpuprofile at exit.
// The inspector's session on the main thread answers synchronously, which is what lets 'exit' write the file.
'use strict';
if (process.env.PMI_RANK !== undefined && process.env.PROFILE_OUT) {
  const { Session } = require('node:inspector');
  const { writeFileSync } = require('node:fs');
  const { join } = require('node:path');
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 100 });
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(process.env.PROFILE_OUT, `${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
