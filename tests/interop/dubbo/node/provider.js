// Starts and stops our demo provider (`dubbo demo provider`) for the Node
// interop tests: spawn it on 127.0.0.1, wait for its "listening on" line,
// keep its stderr (the tests look for log lines in it), stop it with SIGTERM
// and report how it exited.
'use strict';

const { spawn } = require('child_process');

const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 20000;

/* Start `cli demo provider --host 127.0.0.1 --port port`. Port 0 lets the
 * kernel choose a free port, so parallel tests never collide. Resolves to
 * { port, proc, stderr(), stop() } once the provider prints its address. */
function startProvider(cli, port = 0, extraArgs = []) {
  const args = ['demo', 'provider', '--host', '127.0.0.1', '--port', String(port), ...extraArgs];
  const proc = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    err += d;
  });
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
  });

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`provider printed no "listening on" within ${START_TIMEOUT_MS} ms; ` +
                       `stdout: ${out} stderr: ${err}`));
    }, START_TIMEOUT_MS);
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cli}: ${e.message}`));
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`provider exited early (code ${code}, signal ${signal}); stderr: ${err}`));
    });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on ([^\s:]+):(\d+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        port: Number(m[2]),
        proc,
        exited, // resolves to { code, signal } when the process ends
        stdout: () => out,
        stderr: () => err,
        /* SIGTERM, then wait for the exit (SIGKILL after STOP_TIMEOUT_MS).
         * Resolves to { code, signal, killed }. */
        stop() {
          const t = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
          let killed = false;
          t.unref();
          proc.once('exit', (code, signal) => {
            killed = signal === 'SIGKILL';
          });
          proc.kill('SIGTERM');
          return exited.then((r) => {
            clearTimeout(t);
            return { ...r, killed };
          });
        },
      });
    });
  });
}

/* Parse "--name value" options; unknown ones are an error. */
function parseArgs(argv, known) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--') || !(a.slice(2) in known)) throw new Error(`unknown option ${a}`);
    const k = a.slice(2);
    if (known[k] === 'flag') {
      o[k] = true;
    } else {
      if (i + 1 >= argv.length) throw new Error(`option ${a} needs a value`);
      o[k] = argv[++i];
    }
  }
  return o;
}

module.exports = { startProvider, parseArgs };
