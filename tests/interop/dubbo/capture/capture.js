// Captures the frames real Node Dubbo consumers send (dubbo2.js and
// apache-dubbo-js), for the byte-exact tests of the C codec.
//
//   node capture.js [--modules DIR] [--out DIR] [--corpus DIR]
//
// DIR (modules) holds node_modules with dubbo2.js and apache-dubbo-js
// (default: tests/interop/peers/node_modules, else /tmp/dubbojs-peers/node_modules).
// Writes one frame per file to --out (default tests/vectors/dubbo) as hex:
// line 1 the 16-byte header, line 2 the body. With --corpus, also writes the
// raw frames and each connection's whole byte stream there (fuzz seeds).
//
// The parent process runs the recorder (record.js); each consumer runs in a
// child process of its own so that its request ids start from 1 and its
// timers die with it. Everything stays on 127.0.0.1.
'use strict';

const fs = require('fs');
const path = require('path');
const { fork } = require('child_process');

const ROOT = path.resolve(__dirname, '../../../..');

// tag -> npm package name
const PEERS = { dubbo2js: 'dubbo2.js', dubbojs: 'apache-dubbo-js' };

// Calls each consumer makes, in this order; `expect` checks what the consumer
// decoded from record.js's hand-built response.
const CALLS = [
  { method: 'sayHello', expect: (r) => r.res === 'hello world' },
  {
    method: 'echoUser',
    expect: (r) => r.res && r.res.name === 'world' && r.res.age === 30,
  },
  { method: 'mixed', expect: (r) => r.res === null && !r.err },
  { method: 'noArgs', expect: (r) => r.res === null && !r.err },
  { method: 'greet', expect: (r) => r.res === 'héllo, 世界 😀' },
  { method: 'ping', expect: (r) => r.res === 7 },
  { method: 'fail', expect: (r) => r.err && /boom/.test(String(r.err.message)) },
  { method: 'missing', expect: (r) => !!r.err },
];

// ---- child: one consumer ----------------------------------------------------

async function consume(peerDir, port) {
  // The consumers send a heartbeat every 180 s from a setInterval; shorten
  // that one interval so a heartbeat shows up during the capture.
  const realSetInterval = global.setInterval;
  global.setInterval = (fn, ms, ...rest) => realSetInterval(fn, ms === 180000 ? 300 : ms, ...rest);

  const { DirectlyDubbo, java } = require(peerDir);
  const dubbo = DirectlyDubbo.from({
    dubboAddress: `127.0.0.1:${port}`,
    dubboVersion: '2.0.2',
    dubboInvokeTimeout: 5,
  });
  const demo = dubbo.proxyService({
    dubboInterface: 'com.example.DemoService',
    version: '1.0.0',
    timeout: 3000,
    methods: {
      sayHello: (name) => [java.String(name)],
      echoUser: (user) => [java('com.example.User', user)],
      mixed: (i, l, b, d, s, list, map, arr) => [
        java.int(i),
        java.long(l),
        java.boolean(b),
        java.double(d),
        java.String(s),
        java.List(list),
        java.Map(map),
        java.array('java.lang.String', arr),
      ],
      noArgs: () => [],
      greet: (s) => [java.String(s)],
      fail: () => [],
      missing: () => [],
    },
  });
  // No version, a group: shows how "no version" is sent.
  const other = dubbo.proxyService({
    dubboInterface: 'com.example.OtherService',
    group: 'g1',
    methods: { ping: () => [] },
  });
  const args = {
    sayHello: ['world'],
    echoUser: [{ name: 'world', age: 30 }],
    mixed: [42, 1234567890123, true, 3.25, 'text', [1, 'two'], { b: 2, a: 'x' }, ['x', 'y']],
    noArgs: [],
    greet: ['héllo, 世界 😀'],
    ping: [],
    fail: [],
    missing: [],
  };
  const results = [];
  for (const c of CALLS) {
    const svc = c.method === 'ping' ? other : demo;
    const r = await svc[c.method](...args[c.method]);
    results.push({
      method: c.method,
      res: r.res === undefined ? null : r.res,
      err: r.err ? { message: String(r.err.message || r.err) } : null,
    });
  }
  process.send({ results });
  // Stay connected until the parent has seen a heartbeat and tried a
  // server-side one; it then tells us to go.
  process.on('message', (m) => {
    if (m === 'exit') process.exit(0);
  });
}

// ---- parent: recorder and files --------------------------------------------

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) o[argv[i].slice(2)] = argv[++i];
  }
  return o;
}

function modulesDir(opt) {
  const cands = opt
    ? [opt]
    : [path.join(ROOT, 'tests/interop/peers/node_modules'), '/tmp/dubbojs-peers/node_modules'];
  for (const d of cands) {
    if (Object.values(PEERS).every((p) => fs.existsSync(path.join(d, p, 'package.json')))) return d;
  }
  throw new Error('dubbo2.js and apache-dubbo-js not found in ' + cands.join(' or '));
}

function writeHex(file, hex) {
  fs.writeFileSync(file, hex.slice(0, 32) + '\n' + hex.slice(32) + '\n');
}

async function runPeer(rec, tag, dir) {
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, PEERS[tag], 'package.json'), 'utf8'));
  const before = rec.connections.length;
  const child = fork(__filename, ['--consume', path.join(dir, PEERS[tag]), '--port', String(rec.port)]);
  let results = null;
  const done = new Promise((resolve, reject) => {
    child.on('message', (m) => {
      if (m.results) results = m.results;
    });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${tag} exited ${code}`))));
  });
  // Wait for the consumer's results and its first heartbeat, then send one
  // from the server side and give the consumer time to (not) answer it.
  const t0 = Date.now();
  for (;;) {
    const conn = rec.connections[before];
    const hb = conn && conn.frames.some((f) => f.flags & 0x20);
    if (results && hb) break;
    if (Date.now() - t0 > 15000) throw new Error(`${tag}: no results or heartbeat after 15 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const conn = rec.connections[before];
  rec.serverHeartbeat(conn);
  await new Promise((r) => setTimeout(r, 700));
  child.send('exit');
  await done;
  return { pkg, conn, results, conns: rec.connections.length - before };
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  if (opt.consume) return consume(opt.consume, Number(opt.port));

  const dir = modulesDir(opt.modules);
  const out = path.resolve(opt.out || path.join(ROOT, 'tests/vectors/dubbo'));
  const corpus = opt.corpus ? path.resolve(opt.corpus) : null;
  fs.mkdirSync(out, { recursive: true });
  if (corpus) fs.mkdirSync(corpus, { recursive: true });

  const { startRecorder } = require('./record');
  const rec = await startRecorder();
  let failed = 0;
  const summary = [];
  for (const tag of Object.keys(PEERS)) {
    const { pkg, conn, results, conns } = await runPeer(rec, tag, dir);
    summary.push(`${tag}: ${pkg.name} ${pkg.version}, ${conns} connection(s), ${conn.frames.length} frames`);
    // What the consumer made of each hand-built response.
    for (let i = 0; i < CALLS.length; i++) {
      const ok = CALLS[i].expect(results[i]);
      if (!ok) failed++;
      summary.push(`  ${ok ? 'ok  ' : 'FAIL'} ${CALLS[i].method} -> ${JSON.stringify(results[i])}`);
    }
    // Requests, in call order, then the first heartbeat.
    const reqs = conn.frames.filter((f) => !(f.flags & 0x20));
    const hb = conn.frames.find((f) => f.flags & 0x20);
    for (const f of reqs) writeHex(path.join(out, `${tag}-${f.method}.hex`), f.hex);
    writeHex(path.join(out, `${tag}-heartbeat.hex`), hb.hex);
    summary.push(`  heartbeat ${hb.hex}`);
    // Did the consumer answer the server's heartbeat (id 1000)?
    const answered = Buffer.concat(conn.afterServerHeartbeat).includes(Buffer.from('00000000000003e8', 'hex'));
    summary.push(`  answers a server heartbeat: ${answered ? 'yes' : 'no'}`);
    if (tag === 'dubbo2js') {
      // The replies are the same for both consumers (ids count from 1 in both).
      for (const f of reqs) writeHex(path.join(out, `response-${f.method}.hex`), f.reply);
      writeHex(path.join(out, 'response-heartbeat.hex'), hb.reply);
    }
    if (corpus) {
      // Seeds: one consumer's frames (the other's differ only in the
      // application name), the replies, and each whole connection stream
      // (requests and a varying number of heartbeats back to back).
      const bin = (name, hex) => fs.writeFileSync(path.join(corpus, name), Buffer.from(hex, 'hex'));
      if (tag === 'dubbo2js') {
        for (const f of reqs.concat([hb])) bin(`${tag}-${f.method || 'heartbeat'}.bin`, f.hex);
        for (const f of reqs.concat([hb])) bin(`response-${f.method || 'heartbeat'}.bin`, f.reply);
      }
      fs.writeFileSync(path.join(corpus, `${tag}-stream.bin`), Buffer.concat(conn.raw));
    }
  }
  await rec.close();
  console.log(summary.join('\n'));
  if (failed) {
    console.error(`${failed} consumer result(s) not as expected`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
