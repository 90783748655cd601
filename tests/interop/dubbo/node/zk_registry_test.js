// Interop: the Node Dubbo consumers dubbo2.js 2.3.9 and apache-dubbo-js
// 3.0.0-rc6 in registry mode find our demo provider through a real ZooKeeper.
//
//   node zk_registry_test.js --cli build/tools/dubbo --peers tests/interop/peers
//                            [--zkserver tests/integration/zk/zkserver.sh]
//                            [--lib dubbo2.js|apache-dubbo-js] [--verbose]
//
// The parent starts a throwaway ZooKeeper (zkserver.sh, loopback, free port)
// and `dubbo demo provider --registry zookeeper://127.0.0.1:ZK --port 0`; each
// consumer library runs in a child process of its own with
// `new Dubbo({register: '127.0.0.1:ZK', dubboSetting: setting.match(IFACE, ...)})`
// and makes the calls the parent asks for over IPC. The parent checks:
//   1. the provider URL is in /dubbo/IFACE/providers (`dubbo list`);
//   2. each consumer calls sayHello('zk') -> 'Hello zk' and whoami -> A's address;
//   3. each consumer registered its ephemeral consumer:// node under
//      /dubbo/IFACE/consumers (read with node-zookeeper-client, and in `dubbo list`);
//   4. a second provider B: each consumer eventually calls both (20 whoami
//      calls show both ports);
//   5. SIGTERM A: exit 0, its node is gone at once (`dubbo list` shows only B),
//      and each consumer's calls all go to B;
//   6. SIGTERM B: exit 0; no sanitizer report from either provider.
//
// Version setting. Our provider (like Java's) writes no `version` key when the
// service has none. dubbo2.js 2.3.9 turns a missing version into '0.0.0'
// (es7/dubbo-url.js:47-48) and then keeps only providers whose version is
// strictly equal to the consumer's setting (es7/zookeeper.js:184 in
// getAgentAddrList, :202 in getDubboServiceProp), so it needs
// `{version: '0.0.0'}`: with no version, '' or '*' it finds no provider.
// apache-dubbo-js 3.0.0-rc6 accepts any provider when the version is unset
// (es7/registry/registry.js:52: `!version || version == '*' || ...`), so it runs
// with no version at all. ('*' passes its filter too, but it then sends '*'
// as the request's version, which a provider rejects as "Not found exported
// service ...:*" exactly as Java's DubboProtocol would.)
//
// Exit status: 0 all passed, 1 a check failed, 77 skipped (npm peers, java or
// the ZooKeeper jar missing).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { fork, spawnSync, execFile } = require('child_process');
const { startProvider, parseArgs } = require('./provider');

const IFACE = 'org.apache.dubbo.demo.DemoService';
const LIBS = ['dubbo2.js', 'apache-dubbo-js'];
const SKIP = 77;
// The dubboSetting each library needs to find a provider that has no version
// (see the comment at the top).
const SETTINGS = { 'dubbo2.js': { version: '0.0.0' }, 'apache-dubbo-js': {} };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- child: one consumer library in registry mode ----------------------------------

async function runChild(lib, peers, zkPort, app) {
  const { Dubbo, setting, java } = require(path.join(peers, 'node_modules', lib));
  const dubbo = new Dubbo({
    application: { name: app },
    register: `127.0.0.1:${zkPort}`,
    dubboInvokeTimeout: 5,
    dubboSetting: setting.match(IFACE, SETTINGS[lib]),
    service: {
      demo: (d) => d.proxyService({
        dubboInterface: IFACE,
        methods: { sayHello: (n) => [java.String(n)], whoami: () => [] },
      }),
    },
  });
  // dubbo2.js resolves ready() on the ZooKeeper 'connected' event only if
  // ready() was called before it: call it right away.
  const ready = dubbo.ready();
  process.on('message', async (m) => {
    if (m === 'exit') process.exit(0);
    await ready;
    const results = [];
    for (let i = 0; i < m.n; i++) {
      const r = await dubbo.service.demo[m.method](...m.args);
      results.push(r.err ? { err: `${r.err.name}: ${r.err.message}` } : { res: r.res });
    }
    process.send({ id: m.id, results });
  });
  const t = setTimeout(() => {
    process.send({ fatal: 'not ready (no ZooKeeper connection) within 15 s' });
  }, 15000);
  await ready;
  clearTimeout(t);
  process.send({ ready: true });
}

// ---- parent helpers --------------------------------------------------------------------

/* A consumer child: call(method, args, n) resolves to n results
 * ({res} or {err}), made one after another. */
function startConsumer(lib, peers, zkPort, verbose) {
  const app = `zk-interop-${lib}-${process.pid}`;
  const child = fork(__filename, ['--child', lib, '--peers', peers, '--zkport', String(zkPort),
                                  '--app', app],
                     { stdio: ['ignore', verbose ? 'inherit' : 'ignore', 'inherit', 'ipc'] });
  const pending = new Map();
  let nextId = 1;
  let dead = null;
  child.on('message', (m) => {
    const p = pending.get(m.id);
    if (p) {
      pending.delete(m.id);
      p.resolve(m.results);
    }
  });
  child.on('exit', (code, signal) => {
    dead = `consumer ${lib} exited (code ${code}, signal ${signal})`;
    for (const p of pending.values()) p.reject(new Error(dead));
    pending.clear();
  });
  const ready = new Promise((resolve, reject) => {
    child.on('message', (m) => {
      if (m.ready) resolve();
      if (m.fatal) reject(new Error(`${lib}: ${m.fatal}`));
    });
    child.on('exit', () => reject(new Error(dead)));
  });
  return {
    lib,
    app,
    ready,
    call(method, args = [], n = 1) {
      if (dead) return Promise.reject(new Error(dead));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, method, args, n });
      });
    },
    stop() {
      if (dead) return;
      child.send('exit');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      t.unref();
    },
  };
}

/* `dubbo list zookeeper://127.0.0.1:ZK IFACE` -> { providers: [...], consumers: [...] } */
function dubboList(cli, zkPort) {
  return new Promise((resolve, reject) => {
    execFile(cli, ['list', `zookeeper://127.0.0.1:${zkPort}`, IFACE], { timeout: 15000 },
             (err, stdout, stderr) => {
               if (err) {
                 reject(new Error(`dubbo list failed: ${err.message} ${stderr}`));
                 return;
               }
               const out = { providers: [], consumers: [], routers: [], configurators: [] };
               let cat = null;
               for (const line of stdout.split('\n')) {
                 const h = /^(\w+):$/.exec(line);
                 if (h) cat = out[h[1]] ? h[1] : null;
                 else if (cat && line.startsWith('  ')) out[cat].push(line.trim());
               }
               resolve(out);
             });
  });
}

const portOf = (url) => Number(/^dubbo:\/\/[^/:]+:(\d+)\//.exec(url)?.[1]);

/* The consumer URLs under /dubbo/IFACE/consumers, decoded, read with
 * node-zookeeper-client (the same client the Node consumers use). */
function zkConsumers(zookeeper, zkPort) {
  return new Promise((resolve, reject) => {
    const client = zookeeper.createClient(`127.0.0.1:${zkPort}`, { sessionTimeout: 5000 });
    const t = setTimeout(() => {
      client.close();
      reject(new Error('node-zookeeper-client did not connect in 10 s'));
    }, 10000);
    client.once('connected', () => {
      client.getChildren(`/dubbo/${IFACE}/consumers`, (err, children) => {
        clearTimeout(t);
        client.close();
        if (err && err.getCode && err.getCode() === zookeeper.Exception.NO_NODE) resolve([]);
        else if (err) reject(err);
        else resolve(children.map((c) => decodeURIComponent(c)));
      });
    });
    client.connect();
  });
}

/* Retry fn() (which throws while the condition does not hold) for up to ms. */
async function eventually(ms, fn) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() >= end) throw e;
    }
    await sleep(250);
  }
}

// ---- parent ----------------------------------------------------------------------------

async function main() {
  const o = parseArgs(process.argv.slice(2),
                      { cli: 'value', peers: 'value', zkserver: 'value', lib: 'value',
                        child: 'value', zkport: 'value', app: 'value', verbose: 'flag' });
  const peers = path.resolve(o.peers || path.join(__dirname, '../../peers'));
  if (o.child) return runChild(o.child, peers, Number(o.zkport), o.app);

  if (!o.cli) throw new Error('--cli PATH is required');
  const cli = path.resolve(o.cli);
  const libs = o.lib ? [o.lib] : LIBS;
  const need = [...libs, 'node-zookeeper-client'];
  const missing = need.filter((l) => !fs.existsSync(path.join(peers, 'node_modules', l)));
  if (missing.length) {
    console.log(`SKIP: ${missing.join(', ')} not installed in ${peers} (run scripts/setup.sh)`);
    process.exit(SKIP);
  }
  const zookeeper = require(path.join(peers, 'node_modules', 'node-zookeeper-client'));
  const zkserver = path.resolve(o.zkserver ||
                                path.join(__dirname, '../../../integration/zk/zkserver.sh'));

  const zkDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dubbo-zkjs-'));
  const zk = spawnSync('bash', [zkserver, 'start', zkDir], { encoding: 'utf8' });
  if (zk.status === SKIP) {
    fs.rmSync(zkDir, { recursive: true, force: true });
    console.log(zk.stderr.trim() || 'SKIP: no java or no ZooKeeper jar');
    process.exit(SKIP);
  }
  if (zk.status !== 0) {
    fs.rmSync(zkDir, { recursive: true, force: true });
    throw new Error(`zkserver.sh start failed (status ${zk.status}): ${zk.stderr}`);
  }
  const zkPort = Number(zk.stdout.trim());
  console.log(`ZooKeeper on 127.0.0.1:${zkPort}`);

  let failed = 0;
  let total = 0;
  const check = (name, ok, detail) => {
    total++;
    console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${ok ? '' : `: ${detail}`}`);
    if (!ok) failed++;
    return ok;
  };
  // An exception inside a step fails that step; the rest still run.
  const step = async (name, fn) => {
    try {
      const detail = await fn();
      check(name, true);
      if (o.verbose && detail) console.log(`     ${detail}`);
    } catch (e) {
      check(name, false, e.message);
    }
  };

  const regArgs = ['--registry', `zookeeper://127.0.0.1:${zkPort}`];
  const providers = [];
  const consumers = [];
  try {
    const a = await startProvider(cli, 0, regArgs);
    providers.push(a);
    const addrA = `127.0.0.1:${a.port}`;
    console.log(`provider A on ${addrA}`);

    await step(`provider A's URL is under /dubbo/${IFACE}/providers`, () =>
      eventually(5000, async () => {
        const l = await dubboList(cli, zkPort);
        if (l.providers.length !== 1 || portOf(l.providers[0]) !== a.port) {
          throw new Error(`dubbo list providers: ${JSON.stringify(l.providers)}`);
        }
        return l.providers[0];
      }));

    for (const lib of libs) {
      const c = startConsumer(lib, peers, zkPort, o.verbose);
      consumers.push(c);
      await step(`${lib}: ready (connected to ZooKeeper)`, () => c.ready);
    }

    for (const c of consumers) {
      await step(`${c.lib}: sayHello('zk') -> 'Hello zk' via ZooKeeper`, async () => {
        const [r] = await c.call('sayHello', ['zk']);
        if (r.err || r.res !== 'Hello zk') throw new Error(JSON.stringify(r));
      });
      await step(`${c.lib}: whoami -> '${addrA}'`, async () => {
        const [r] = await c.call('whoami');
        if (r.err || r.res !== addrA) throw new Error(JSON.stringify(r));
      });
    }

    const isMine = (app) => (u) => u.startsWith(`consumer://`) && u.includes(`/${IFACE}?`) &&
      new URLSearchParams(u.slice(u.indexOf('?') + 1)).get('application') === app;
    for (const c of consumers) {
      await step(`${c.lib}: its consumer node is under /dubbo/${IFACE}/consumers`, () =>
        eventually(10000, async () => {
          const nodes = await zkConsumers(zookeeper, zkPort);
          const mine = nodes.filter(isMine(c.app));
          if (mine.length !== 1) {
            throw new Error(`${mine.length} consumer nodes of application=${c.app}: ` +
                            JSON.stringify(nodes));
          }
          const q = new URLSearchParams(mine[0].slice(mine[0].indexOf('?') + 1));
          if (q.get('side') !== 'consumer' || q.get('category') !== 'consumers' ||
              q.get('interface') !== IFACE) {
            throw new Error(`unexpected consumer URL ${mine[0]}`);
          }
          return mine[0];
        }));
      await step(`${c.lib}: \`dubbo list\` shows its consumer node`, async () => {
        const l = await dubboList(cli, zkPort);
        if (!l.consumers.some(isMine(c.app))) {
          throw new Error(`dubbo list consumers: ${JSON.stringify(l.consumers)}`);
        }
      });
    }

    // A second provider: the consumers pick it up from the ZooKeeper watch.
    const b = await startProvider(cli, 0, regArgs);
    providers.push(b);
    const addrB = `127.0.0.1:${b.port}`;
    console.log(`provider B on ${addrB}`);
    await step('dubbo list shows providers A and B', () =>
      eventually(5000, async () => {
        const ports = (await dubboList(cli, zkPort)).providers.map(portOf).sort();
        const want = [a.port, b.port].sort();
        if (JSON.stringify(ports) !== JSON.stringify(want)) {
          throw new Error(`provider ports ${ports}, expected ${want}`);
        }
      }));
    const whoamis = async (c, n) => {
      const rs = await c.call('whoami', [], n);
      const errs = rs.filter((r) => r.err);
      if (errs.length) throw new Error(`${errs.length}/${n} calls failed: ${errs[0].err}`);
      return rs.map((r) => r.res);
    };
    const count = (xs) => xs.reduce((m, x) => ({ ...m, [x]: (m[x] || 0) + 1 }), {});
    for (const c of consumers) {
      await step(`${c.lib}: calls provider B once the watch fires`, () =>
        eventually(15000, async () => {
          const got = await whoamis(c, 4);
          if (!got.includes(addrB)) throw new Error(`only ${JSON.stringify(count(got))}`);
        }));
      await step(`${c.lib}: 20 whoami calls reach both providers`, async () => {
        const got = count(await whoamis(c, 20));
        if (!got[addrA] || !got[addrB] || Object.keys(got).length !== 2) {
          throw new Error(`got ${JSON.stringify(got)}`);
        }
        return JSON.stringify(got);
      });
    }

    // SIGTERM A: it unregisters before it closes, so its node is gone when it
    // has exited, and the consumers send everything to B.
    const stA = await a.stop();
    providers.splice(providers.indexOf(a), 1);
    check('provider A exits 0 on SIGTERM', stA.code === 0 && !stA.killed,
          `code ${stA.code}, signal ${stA.signal}${stA.killed ? ' (killed)' : ''}`);
    check('provider A logged its unregistration', /unregistered 2 provider URL/.test(a.stderr()),
          'no "unregistered 2 provider URL" line (DemoService and UserService) in its stderr');
    await step('right after A exited, dubbo list shows only provider B', async () => {
      const l = await dubboList(cli, zkPort);
      if (l.providers.length !== 1 || portOf(l.providers[0]) !== b.port) {
        throw new Error(`dubbo list providers: ${JSON.stringify(l.providers)}`);
      }
    });
    // Give the consumers a moment to see A's connection close (they pass
    // without it too; it only keeps the check free of timing races).
    await sleep(1000);
    for (const c of consumers) {
      await step(`${c.lib}: after A stopped, 20 whoami calls all go to B`, async () => {
        const got = count(await whoamis(c, 20));
        if (Object.keys(got).length !== 1 || got[addrB] !== 20) {
          throw new Error(`got ${JSON.stringify(got)}`);
        }
      });
    }
    // dubbo2.js re-reads the providers 2 s after a watch event: check again
    // once both libraries have applied A's removal.
    await sleep(2500);
    for (const c of consumers) {
      await step(`${c.lib}: after the watch update, 20 whoami calls all go to B`, async () => {
        const got = count(await whoamis(c, 20));
        if (Object.keys(got).length !== 1 || got[addrB] !== 20) {
          throw new Error(`got ${JSON.stringify(got)}`);
        }
        const [r] = await c.call('sayHello', ['zk']);
        if (r.err || r.res !== 'Hello zk') throw new Error(`sayHello: ${JSON.stringify(r)}`);
      });
    }

    const stB = await b.stop();
    providers.splice(providers.indexOf(b), 1);
    check('provider B exits 0 on SIGTERM', stB.code === 0 && !stB.killed,
          `code ${stB.code}, signal ${stB.signal}${stB.killed ? ' (killed)' : ''}`);
    await step('dubbo list shows no provider after B exited', async () => {
      const l = await dubboList(cli, zkPort);
      if (l.providers.length !== 0) throw new Error(JSON.stringify(l.providers));
    });
    for (const [name, p] of [['A', a], ['B', b]]) {
      const err = p.stderr();
      const ok = check(`provider ${name} stderr has no sanitizer report`,
                       !/AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer/.test(err),
                       'see its stderr below');
      if (!ok || o.verbose) process.stdout.write(`---- provider ${name} stderr ----\n${err}`);
    }
  } catch (e) {
    check('test ran to the end', false, e.stack || e.message);
  } finally {
    for (const c of consumers) c.stop();
    for (const p of providers) {
      await p.stop();
      if (failed) process.stdout.write(`---- provider stderr ----\n${p.stderr()}`);
    }
    const st = spawnSync('bash', [zkserver, 'stop', zkDir], { encoding: 'utf8' });
    if (st.status !== 0) check('ZooKeeper stops', false, st.stderr);
    fs.rmSync(zkDir, { recursive: true, force: true });
  }
  console.log(`${failed ? 'FAILED' : 'OK'}: ${total - failed}/${total} checks passed`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(`FAIL: ${e.stack || e.message}`);
  process.exit(1);
});
