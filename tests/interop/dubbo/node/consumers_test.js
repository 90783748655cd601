// Interop: the Node Dubbo consumers dubbo2.js 2.3.9 and apache-dubbo-js
// 3.0.0-rc6 call our demo provider directly (DirectlyDubbo, no registry).
//
//   node consumers_test.js --cli build/tools/dubbo --peers tests/interop/peers
//                          [--lib dubbo2.js|apache-dubbo-js] [--port N] [--verbose]
//
// The parent starts `dubbo demo provider` on 127.0.0.1 (port 0 = a free one
// unless --port), then runs each consumer library in a child process of its
// own (own request ids, own module instances, timers that die with it). Each
// child runs the CHECKS below and reports them; with every consumer still
// connected, the parent stops the provider with SIGTERM and requires exit
// status 0 and a clean stderr (no sanitizer report). Exit status: 0 all
// passed, 1 a check failed, 77 the npm peers are not installed (skip).
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { fork } = require('child_process');
const { startProvider, parseArgs } = require('./provider');

const IFACE = 'org.apache.dubbo.demo.DemoService';
const LIBS = ['dubbo2.js', 'apache-dubbo-js'];
const SKIP = 77;

// ---- child: one consumer library -----------------------------------------------

/* The demo service's methods as the consumer declares them: each returns the
 * typed argument list (the library derives the JVM descriptor from the
 * $class of each argument). */
function demoMethods(java) {
  return {
    sayHello: (name) => [java.String(name)],
    echo: (value) => [value],
    whoami: () => [],
    sleep: (ms) => [java.int(ms)],
    fail: (message) => [java.String(message)],
  };
}

function expectOk(r) {
  if (r.err) throw new Error(`call failed: ${r.err.name}: ${r.err.message}`);
  return r.res;
}

function expectErr(r) {
  if (!r.err) throw new Error(`call returned ${JSON.stringify(r.res)} instead of failing`);
  return r.err;
}

function elapsed(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/* Every check gets { svc, slow, other(opts), java, port } and throws on a
 * wrong answer. `svc` has a 5 s invoke timeout, `slow` one of 1 s. */
const CHECKS = [
  ['sayHello("world")', async ({ svc }) => {
    assert.strictEqual(expectOk(await svc.sayHello('world')), 'Hello world');
  }],
  ['sayHello non-ASCII (CESU-8, emoji)', async ({ svc }) => {
    const s = 'wörld 中文 😀 \u0000 end';
    assert.strictEqual(expectOk(await svc.sayHello(s)), `Hello ${s}`);
  }],
  ['sayHello(null)', async ({ svc }) => {
    assert.strictEqual(expectOk(await svc.sayHello(null)), 'Hello null');
  }],
  ['echo com.example.User', async ({ svc, java }) => {
    const u = java('com.example.User', { name: 'Ann', age: java.int(42) });
    assert.deepStrictEqual(expectOk(await svc.echo(u)), { name: 'Ann', age: 42 });
  }],
  ['echo nested objects with a shared reference', async ({ svc, java }) => {
    const ann = java('com.example.User', { name: 'Ann', age: java.int(42) });
    const team = java('com.example.Team', {
      lead: ann,
      members: java.List([ann, java('com.example.User', { name: 'Bo', age: java.int(7) })]),
    });
    const got = expectOk(await svc.echo(team));
    const a = { name: 'Ann', age: 42 };
    assert.deepStrictEqual(got, { lead: a, members: [a, { name: 'Bo', age: 7 }] });
    // hessian.js resolves the back reference to the very same JS object.
    assert.strictEqual(got.lead, got.members[0], 'the shared User came back as two copies');
  }],
  ['echo java.util.List<int>', async ({ svc, java }) => {
    const l = java.List([java.int(1), java.int(-2), java.int(300000), java.int(-2147483648)]);
    assert.deepStrictEqual(expectOk(await svc.echo(l)), [1, -2, 300000, -2147483648]);
  }],
  ['echo empty java.util.List', async ({ svc, java }) => {
    assert.deepStrictEqual(expectOk(await svc.echo(java.List([]))), []);
  }],
  ['echo java.util.Map<String,?>', async ({ svc, java }) => {
    const m = java.Map({ a: java.int(1), b: 'two', c: java.List([java.int(3)]), d: null });
    assert.deepStrictEqual(expectOk(await svc.echo(m)), { a: 1, b: 'two', c: [3], d: null });
  }],
  ['echo String[]', async ({ svc, java }) => {
    const arr = java.array('java.lang.String', ['x', 'y', '']);
    assert.deepStrictEqual(expectOk(await svc.echo(arr)), ['x', 'y', '']);
  }],
  ['echo byte[] (sent as a typed list)', async ({ svc, java }) => {
    assert.deepStrictEqual(expectOk(await svc.echo(java.array.byte([1, -2, 127]))), [1, -2, 127]);
  }],
  ['echo long 1234567890123', async ({ svc, java }) => {
    assert.strictEqual(expectOk(await svc.echo(java.long(1234567890123))), 1234567890123);
  }],
  ['echo long -5 and 2^53 - 1', async ({ svc, java }) => {
    assert.strictEqual(expectOk(await svc.echo(java.long(-5))), -5);
    const max = Number.MAX_SAFE_INTEGER;
    assert.strictEqual(expectOk(await svc.echo(java.long(max))), max);
  }],
  ['echo long 2^53 + 1 and Long.MIN_VALUE (hessian.js gives strings)', async ({ svc, java }) => {
    for (const l of ['9007199254740993', '-9223372036854775808']) {
      assert.strictEqual(expectOk(await svc.echo(java.long(l))), l);
    }
  }],
  ['echo BigDecimal, enum, java.util.Set', async ({ svc, java }) => {
    assert.deepStrictEqual(expectOk(await svc.echo(java.BigDecimal('1.25'))), { value: '1.25' });
    assert.deepStrictEqual(expectOk(await svc.echo(java.enum('com.example.Color', 'RED'))),
                           { name: 'RED' });
    assert.deepStrictEqual(expectOk(await svc.echo(java.Set([java.int(1), 'b']))), [1, 'b']);
  }],
  ['echo double 3.25, 0.001, -1e300', async ({ svc, java }) => {
    for (const d of [3.25, 0.001, -1e300]) {
      assert.strictEqual(expectOk(await svc.echo(java.double(d))), d);
    }
  }],
  ['echo int and boolean', async ({ svc, java }) => {
    assert.strictEqual(expectOk(await svc.echo(java.int(-7))), -7);
    assert.strictEqual(expectOk(await svc.echo(java.Boolean(true))), true);
  }],
  ['echo java.util.Date', async ({ svc, java }) => {
    const d = new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789));
    const got = expectOk(await svc.echo(java('java.util.Date', d)));
    assert.ok(got instanceof Date, `got ${typeof got} instead of a Date`);
    assert.strictEqual(got.getTime(), d.getTime());
  }],
  ['echo 200000-unit string (chunks, surrogates on chunk edges)', async ({ svc, java }) => {
    const s = 'ab😀'.repeat(50000);
    assert.ok(expectOk(await svc.echo(java.String(s))) === s, 'the long string came back changed');
  }],
  ['whoami', async ({ svc, port }) => {
    assert.strictEqual(expectOk(await svc.whoami()), `127.0.0.1:${port}`);
  }],
  ['fail("boom") -> IllegalStateException', async ({ svc }) => {
    const e = expectErr(await svc.fail('boom'));
    assert.match(String(e.message), /boom/);
    assert.strictEqual(e.name, 'java.lang.IllegalStateException');
  }],
  ['sleep(200) within a 5 s timeout', async ({ svc }) => {
    const t0 = process.hrtime.bigint();
    assert.strictEqual(expectOk(await svc.sleep(200)), null);
    const ms = elapsed(t0);
    assert.ok(ms >= 195, `sleep(200) answered after ${ms.toFixed(0)} ms`);
  }],
  ['sleep(3000) with a 1 s timeout times out', async ({ slow }) => {
    const t0 = process.hrtime.bigint();
    const e = expectErr(await slow.sleep(3000));
    const ms = elapsed(t0);
    assert.match(String(e.message), /timeout/i);
    assert.ok(ms >= 900 && ms < 2500, `timed out after ${ms.toFixed(0)} ms, expected ~1000`);
  }],
  ['same connection still works after the timeout', async ({ slow }) => {
    assert.strictEqual(expectOk(await slow.sayHello('again')), 'Hello again');
  }],
  ['64 concurrent calls on one connection', async ({ svc }) => {
    const names = Array.from({ length: 64 }, (_, i) => `n${i}`);
    const got = await Promise.all(names.map((n) => svc.sayHello(n)));
    got.forEach((r, i) => assert.strictEqual(expectOk(r), `Hello ${names[i]}`));
  }],
  ['version "0.0.0" means no version', async ({ other }) => {
    const s = other({ version: '0.0.0' });
    assert.strictEqual(expectOk(await s.sayHello('v')), 'Hello v');
  }],
  ['version "9.9.9" is not found', async ({ other }) => {
    const e = expectErr(await other({ version: '9.9.9' }).sayHello('v'));
    assert.match(String(e.message), /Not found exported service/);
  }],
  ['group "g1" is not found', async ({ other }) => {
    const e = expectErr(await other({ group: 'g1' }).sayHello('g'));
    assert.match(String(e.message), /Not found exported service/);
  }],
  // Java 3.3 answers BAD_REQUEST (40) "Fail to decode request due to: ..."
  // for a method the service lacks; so do we.
  ['unknown method -> BAD_REQUEST naming it', async ({ other, java }) => {
    const s = other({ methods: { nope: () => [java.int(1)] } });
    const e = expectErr(await s.nope());
    assert.match(String(e.message), /Fail to decode request due to: Not found method "nope"/);
  }],
  ['sayHello(int) -> IllegalArgumentException', async ({ other, java }) => {
    const s = other({ methods: { sayHello: (n) => [java.int(n)] } });
    const e = expectErr(await s.sayHello(5));
    assert.strictEqual(e.name, 'java.lang.IllegalArgumentException');
  }],
];

async function runChild(lib, peers, port, verbose) {
  const mod = require(path.join(peers, 'node_modules', lib));
  const { DirectlyDubbo, java } = mod;
  const conns = [];
  const connect = (timeoutSec) => {
    const d = DirectlyDubbo.from({
      dubboAddress: `127.0.0.1:${port}`,
      dubboVersion: '2.0.2',
      dubboInvokeTimeout: timeoutSec,
    });
    conns.push(d);
    return d;
  };
  const fast = connect(5);
  const slowConn = connect(1);
  const svc = fast.proxyService({ dubboInterface: IFACE, methods: demoMethods(java) });
  const slow = slowConn.proxyService({ dubboInterface: IFACE, methods: demoMethods(java) });
  const other = (opts) =>
    fast.proxyService({ dubboInterface: IFACE, methods: demoMethods(java), ...opts });
  const ctx = { svc, slow, other, java, port };

  const results = [];
  for (const [name, fn] of CHECKS) {
    const t0 = process.hrtime.bigint();
    try {
      await fn(ctx);
      results.push({ name, ok: true, ms: elapsed(t0) });
    } catch (e) {
      results.push({ name, ok: false, ms: elapsed(t0), detail: e.message });
    }
    if (verbose) process.stderr.write(`  ${lib}: ${name} done\n`);
  }
  process.send({ lib, results });
  // Stay connected until the parent has stopped the provider, then leave:
  // these libraries have no close(), their sockets reconnect forever.
  // 'drain': start a sleep(1500) the provider's shutdown must let finish.
  process.on('message', async (m) => {
    if (m === 'exit') process.exit(0);
    if (m !== 'drain') return;
    const t0 = process.hrtime.bigint();
    const pending = svc.sleep(1500);
    setTimeout(() => process.send({ started: true }), 200);
    const r = await pending;
    const ms = elapsed(t0);
    process.send({ drained: { ok: !r.err && r.res === null && ms >= 1450, ms,
                              detail: r.err ? `${r.err.name}: ${r.err.message}` : `res ${r.res}` } });
  });
}

// ---- parent ----------------------------------------------------------------------

function runLib(lib, peers, port, verbose) {
  return new Promise((resolve) => {
    const child = fork(__filename, ['--child', lib, '--peers', peers, '--port', String(port)].concat(
      verbose ? ['--verbose'] : []), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ lib, child: null, results: [{ name: 'consumer finished in 60 s', ok: false }] });
    }, 60000);
    child.on('message', (m) => {
      clearTimeout(timer);
      resolve({ lib, child, results: m.results });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({
        lib,
        child: null,
        results: [{ name: 'consumer process', ok: false,
                    detail: `exited (code ${code}, signal ${signal}) before reporting` }],
      });
    });
  });
}

async function main() {
  const o = parseArgs(process.argv.slice(2),
                      { cli: 'value', peers: 'value', lib: 'value', port: 'value',
                        child: 'value', verbose: 'flag' });
  const peers = path.resolve(o.peers || path.join(__dirname, '../../peers'));
  if (o.child) return runChild(o.child, peers, Number(o.port), o.verbose);

  if (!o.cli) throw new Error('--cli PATH is required');
  const libs = o.lib ? [o.lib] : LIBS;
  const missing = libs.filter((l) => !fs.existsSync(path.join(peers, 'node_modules', l)));
  if (missing.length) {
    console.log(`SKIP: ${missing.join(', ')} not installed in ${peers} (run scripts/setup.sh)`);
    process.exit(SKIP);
  }

  const provider = await startProvider(path.resolve(o.cli), Number(o.port || 0));
  console.log(`provider on 127.0.0.1:${provider.port}`);
  let failed = 0;
  const runs = [];
  for (const lib of libs) {
    const run = await runLib(lib, peers, provider.port, o.verbose);
    runs.push(run);
    for (const r of run.results) {
      const ms = r.ms !== undefined ? ` (${r.ms.toFixed(0)} ms)` : '';
      console.log(`${r.ok ? 'PASS' : 'FAIL'} ${lib}: ${r.name}${ms}${r.ok ? '' : `: ${r.detail}`}`);
      if (!r.ok) failed++;
    }
  }

  // Stop the provider while the consumers are still connected and each has a
  // sleep(1500) in flight: it must send them readonly, let those calls
  // answer, close and exit 0.
  const live = runs.filter((r) => r.child);
  const drained = live.map((r) => new Promise((resolve) => {
    const t = setTimeout(() => resolve({ ok: false, detail: 'no answer within 15 s' }), 15000);
    r.child.on('message', (m) => {
      if (m.drained) {
        clearTimeout(t);
        resolve(m.drained);
      }
    });
  }));
  await Promise.all(live.map((r) => new Promise((resolve) => {
    r.child.on('message', (m) => m.started && resolve());
    r.child.send('drain');
  })));
  const stopping = provider.stop();
  const drains = await Promise.all(drained);
  const st = await stopping;
  const err = provider.stderr();
  const shut = [
    ...live.map((r, i) => [`${r.lib}: sleep(1500) in flight at SIGTERM is answered`,
                           drains[i].ok, `${drains[i].detail} after ${drains[i].ms} ms`]),
    ['provider exits 0 on SIGTERM', st.code === 0 && !st.killed,
     `code ${st.code}, signal ${st.signal}${st.killed ? ' (killed after the stop timeout)' : ''}`],
    ['provider printed "stopped"', /\bstopped\b/.test(provider.stdout()), provider.stdout()],
    ['provider sent readonly to the connected consumers',
     /sent readonly to [1-9]\d* consumer connection/.test(err), 'no "sent readonly to N" line'],
    ['provider stderr has no sanitizer report',
     !/AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer/.test(err), 'see stderr below'],
  ];
  for (const [name, ok, detail] of shut) {
    console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${ok ? '' : `: ${detail}`}`);
    if (!ok) failed++;
  }
  for (const run of runs) if (run.child) run.child.send('exit');
  if (failed || o.verbose) process.stdout.write(`---- provider stderr ----\n${err}`);
  const total = runs.reduce((n, r) => n + r.results.length, 0) + shut.length;
  console.log(`${failed ? 'FAILED' : 'OK'}: ${total - failed}/${total} checks passed`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(`FAIL: ${e.stack || e.message}`);
  process.exit(1);
});
