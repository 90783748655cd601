// Hessian 2 encode/decode benchmark, Node side: hessian.js 2.11.0 + js-to-java.
//
// The payloads are the ones of bench/hessian2_bench.c and HessianBench.java
// (shape of apache/dubbo-benchmark's User and Page): keep the three in step.
//
//   node bench/hessian2/bench.js [--seconds S] [--runs N] [--warmup S] [--dump DIR]
//
// Encode: a new EncoderV2 per message, as a Node Dubbo consumer makes per
// request. Decode: new DecoderV2(buf).read() without types (what hessian.js's
// decode(buf, '2.0') and the Node Dubbo consumers do for a response), plus a
// second decode measurement with withType = true (keeps $class wrappers,
// closer to the typed graph the C decoder builds).
//
// Prints "size <payload> <bytes>" and
// "result js <payload> <encode|decode|decode-typed> <median ops/s> <run1> ..." lines,
// "rcpu ..." lines of the same runs in ops per CPU-second of the main thread,
// and "cpu js <share>": the lowest share of a timed run's wall time the
// main thread was on a CPU (below ~0.95, other processes interfered).
'use strict';

const fs = require('fs');
const path = require('path');

const peers = process.env.HESSIAN_PEERS ||
  path.join(__dirname, '..', '..', 'tests', 'interop', 'peers', 'node_modules');
const hessian = require(path.join(peers, 'hessian.js'));
const java = require(path.join(peers, 'js-to-java'));

const BIRTHDAY_MS = -33609600000; // 1968-12-08T00:00:00Z
const CREATE_MS = 1710494813589; // 2024-03-15T09:26:53.589Z
const PERMISSIONS = [1, 2, 3, 4, 5, 6, 7, 8, 19, 88, 86, 89, 90, 91, 92];
const NAME = 'Doug Lea';
const EMAIL = 'dong.lea@gmail.com';
const MOBILE = '18612345678';
const ADDRESS = '北京市 中关村 中关村大街1号 鼎好大厦 1605';
const ICON = 'https://www.baidu.com/img/bd_logo1.png';

// Fields in the order Java's serializer writes them (primitives and
// java.lang types first, then the others, each in declaration order).
function makeUser(id, suffix, createMs) {
  return java('com.example.bench.User', {
    id: java.long(id),
    name: NAME + suffix,
    sex: 1,
    email: EMAIL + suffix,
    mobile: MOBILE + suffix,
    address: ADDRESS + suffix,
    icon: ICON + suffix,
    status: 1,
    birthday: new Date(BIRTHDAY_MS),
    permissions: PERMISSIONS.slice(),
    createTime: new Date(createMs),
    updateTime: new Date(createMs),
  });
}

function singleUser() {
  return makeUser(10001, '', CREATE_MS);
}

function page() {
  const result = [];
  for (let i = 0; i < 15; i++) result.push(makeUser(i, String(i), CREATE_MS + 1000 * i));
  return java('com.example.bench.Page', { pageNo: 1, total: 1000, result });
}

function encode(value) {
  const enc = new hessian.EncoderV2();
  enc.write(value);
  return enc.get();
}

function decode(buf) {
  return new hessian.DecoderV2(buf).read(false);
}

function decodeTyped(buf) {
  return new hessian.DecoderV2(buf).read(true);
}

let sink = null;

// CPU time of the main thread (utime + stime of /proc/self/task/<pid>/stat,
// in clock ticks: 10 ms); Node 20 has no per-thread CPU clock.
const TICK = 0.01;
const statPath = '/proc/self/task/' + process.pid + '/stat';
function threadCpu() {
  const f = fs.readFileSync(statPath, 'latin1');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) * TICK; // fields 14, 15
}

// Lowest share of wall time the main thread was on a CPU during a timed run
// (below ~0.95: other processes took the CPU and the run is noisy).
let minShare = 1;

// Runs fn for about `seconds`, checking the clock every `batch` calls.
// Returns [ops per wall-clock second, ops per CPU-second of the main thread].
function measure(fn, arg, seconds, batch, timed) {
  const limit = BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  const cpu0 = threadCpu();
  let now;
  let n = 0;
  do {
    for (let i = 0; i < batch; i++) sink = fn(arg);
    n += batch;
    now = process.hrtime.bigint();
  } while (now - start < limit);
  const cpu = threadCpu() - cpu0;
  const wall = Number(now - start) / 1e9;
  if (timed && cpu / wall < minShare) minShare = cpu / wall;
  return [n / wall, n / Math.max(cpu, TICK)];
}

function median(xs) {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function report(payload, what, runs) {
  for (let w = 0; w < 2; w++) {
    const xs = runs.map((r) => r[w]);
    console.log([w ? 'rcpu js' : 'result js', payload, what, median(xs).toFixed(0)]
      .concat(xs.map((r) => r.toFixed(0))).join(' '));
  }
}

function bench(payload, value, opts, batch) {
  const bytes = encode(value);
  const ops = [
    ['encode', encode, value],
    ['decode', decode, bytes],
    ['decode-typed', decodeTyped, bytes],
  ];
  for (let i = 0; i < 4; i++) {
    for (const [, fn, arg] of ops) measure(fn, arg, opts.warmup / 12, batch, false);
  }
  for (const [what, fn, arg] of ops) {
    const runs = [];
    for (let i = 0; i < opts.runs; i++) runs.push(measure(fn, arg, opts.seconds, batch, true));
    report(payload, what, runs);
  }
}

// The untyped decode of our bytes must equal the value we encoded with its
// js-to-java wrappers taken off (hessian.js does not keep long vs int when
// decoding, so a decode + encode round trip would not give the same bytes).
function plain(v) {
  if (v === null || typeof v !== 'object' || v instanceof Date) return v;
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v.$class === 'string' && '$' in v) return plain(v.$);
  const o = {};
  for (const k of Object.keys(v)) o[k] = plain(v[k]);
  return o;
}

function check(payload, value) {
  const got = JSON.stringify(decode(encode(value)));
  const want = JSON.stringify(plain(value));
  if (got !== want) throw new Error(payload + ': decode(encode(v)) differs from v');
}

function main() {
  const opts = { seconds: 1, runs: 5, warmup: 3, dump: null };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case '--seconds': opts.seconds = Number(argv[++i]); break;
      case '--runs': opts.runs = Number(argv[++i]); break;
      case '--warmup': opts.warmup = Number(argv[++i]); break;
      case '--dump': opts.dump = argv[++i]; break;
      default: throw new Error('unknown option ' + argv[i]);
    }
  }
  const user = singleUser();
  const pg = page();
  check('user', user);
  check('page', pg);
  const ub = encode(user);
  const pb = encode(pg);
  console.log('size user ' + ub.length);
  console.log('size page ' + pb.length);
  if (opts.dump) {
    fs.writeFileSync(path.join(opts.dump, 'js-user.bin'), ub);
    fs.writeFileSync(path.join(opts.dump, 'js-page.bin'), pb);
  }
  const version = require(path.join(peers, 'hessian.js', 'package.json')).version;
  console.log('info js node ' + process.version + ' hessian.js ' + version);
  bench('user', user, opts, 64);
  bench('page', pg, opts, 8);
  console.log('cpu js ' + minShare.toFixed(2));
}

main();
