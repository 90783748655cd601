'use strict';
// The hessian.js 2.11 side of the dubbo-c hessian2 interop test.
//
//   node hessian2-peer.js gen CASES OUT
//       write OUT (name TAB hex TAB expected-json...) for every case of the
//       cases file that cases.js can build; each case is written by a fresh
//       EncoderV2. The expected JSON is the "js:NAME" line where there is one.
//   node hessian2-peer.js verify
//       read lines "file TAB name TAB nvalues TAB refhex TAB ourhex" on stdin;
//       decode nvalues values from both with hessian.js (withType) and compare
//       what it read, structurally (shared and circular references included);
//       print "OK file name" or "FAIL file name: why" per line ("NOTE file
//       name: why" when hessian.js cannot read the reference vector itself).

const fs = require('fs');
const readline = require('readline');
const hessian = require('hessian.js');
const { cases, rep, bytes } = require('./cases');

// Typed maps hessian.js should write as maps ('M' type ...) and not as objects.
const MAP_TYPES = { 'java.util.TreeMap': true, 'java.util.LinkedHashMap': true };

const MACRO = /\{\{(rep|bytes) (\d+)(?: (.*?))?\}\}/g;
const expand = (s) =>
  s.replace(MACRO, (_, kind, n, text) => (kind === 'rep' ? rep(text, +n) : bytes(+n).toString('base64')));

// The cases of the file in order: [{name, json: [..]}], with js: overrides applied.
function readCases(path) {
  const list = [];
  const byName = new Map();
  const overrides = new Map();
  let last = null;
  fs.readFileSync(path, 'utf8').split('\n').forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith('#')) return;
    const m = /^(\S+)\s+(.*)$/.exec(t);
    if (!m) throw new Error(`${path}:${i + 1}: no JSON`);
    const [, key, json] = [m[0], m[1], expand(m[2])];
    if (key === '+') {
      if (!last) throw new Error(`${path}:${i + 1}: '+' without a case`);
      last.push(json);
    } else if (key.startsWith('js:')) {
      last = [json];
      overrides.set(key.slice(3), last);
    } else if (key.includes(':')) {
      last = null;
    } else {
      if (byName.has(key)) throw new Error(`${path}:${i + 1}: duplicate ${key}`);
      const c = { name: key, json: [json] };
      list.push(c);
      byName.set(key, c);
      last = c.json;
    }
  });
  for (const [name, json] of overrides) {
    if (!byName.has(name)) throw new Error(`${path}: js:${name} overrides no case`);
    byName.get(name).json = json;
  }
  return list;
}

function encode(values) {
  const enc = new hessian.EncoderV2({ mapTypes: MAP_TYPES });
  for (const v of values) enc.write(v);
  return enc.get();
}

function gen(casesPath, outPath) {
  const list = readCases(casesPath);
  const names = new Set(list.map((c) => c.name));
  for (const name of cases.keys()) {
    if (!names.has(name)) throw new Error(`cases.js builds ${name}, not in ${casesPath}`);
  }
  const out = [];
  for (const c of list) {
    const build = cases.get(c.name);
    if (!build) {
      process.stderr.write(`js: no value for ${c.name} (left out)\n`);
      continue;
    }
    const values = build();
    if (values.length !== c.json.length) {
      throw new Error(`${c.name}: ${values.length} values but ${c.json.length} JSON`);
    }
    out.push(`${c.name}\t${encode(values).toString('hex')}\t${c.json.join('\t')}\n`);
  }
  fs.writeFileSync(outPath, out.join(''));
}

function decode(buf, n) {
  const d = new hessian.DecoderV2(buf);
  const values = [];
  for (let i = 0; i < n; i++) values.push(d.read(true));
  if (d.byteBuffer.position() !== buf.length) {
    throw new Error(`${buf.length - d.byteBuffer.position()} bytes left after ${n} values`);
  }
  return values;
}

// A canonical text of what hessian.js decoded: every container gets a number
// when first met, later meetings print "@number", so equal texts mean equal
// graphs. Maps also show their ES6 $map entries (keys keep their types there).
function canon(v, seen = new Map()) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'boolean') return String(v);
  if (Buffer.isBuffer(v)) return `bin(${v.toString('hex')})`;
  if (v instanceof Date) return `date(${v.getTime()})`;
  if (seen.has(v)) return `@${seen.get(v)}`;
  seen.set(v, seen.size);
  if (Array.isArray(v)) return `[${v.map((x) => canon(x, seen)).join(',')}]`;
  let s = `{${Object.keys(v).map((key) => `${JSON.stringify(key)}:${canon(v[key], seen)}`).join(',')}}`;
  if (v.$map instanceof Map) {
    const entries = [];
    for (const [key, val] of v.$map) entries.push(`${canon(key, seen)}=>${canon(val, seen)}`);
    s += `$map{${entries.join(',')}}`;
  }
  return s;
}

// Up to 200 characters of s, from a little before offset `at`.
function clip(s, at) {
  const from = Math.max(0, at - 40);
  const t = s.slice(from, from + 200);
  return `${from ? '...' : ''}${t}${from + 200 < s.length ? '...' : ''}`;
}

function firstDiff(a, b) {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

async function verify() {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  const out = [];
  for await (const line of rl) {
    if (!line) continue;
    const [file, name, n, refHex, ourHex] = line.split('\t');
    const id = `${file} ${name}`;
    let want;
    try {
      want = decode(Buffer.from(refHex, 'hex'), +n).map((v) => canon(v)).join(' ; ');
    } catch (e) {
      // a limit of hessian.js itself (e.g. no 0x57 lists): reported, not failed
      out.push(`NOTE ${id}: hessian.js cannot read the peer's own vector either (${e.message}); not checked`);
      continue;
    }
    try {
      const got = decode(Buffer.from(ourHex, 'hex'), +n).map((v) => canon(v)).join(' ; ');
      const d = firstDiff(got, want);
      out.push(got === want ? `OK ${id}`
        : `FAIL ${id}: from char ${d} on, hessian.js reads our bytes as ${clip(got, d)}, the peer's vector as ${clip(want, d)}`);
    } catch (e) {
      out.push(`FAIL ${id}: hessian.js cannot read our bytes: ${e.message}`);
    }
  }
  process.stdout.write(out.map((l) => l + '\n').join(''));
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'gen' && args.length === 2) {
  gen(args[0], args[1]);
} else if (cmd === 'verify' && args.length === 0) {
  verify().catch((e) => {
    process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  });
} else {
  process.stderr.write('usage: node hessian2-peer.js gen CASES OUT | verify\n');
  process.exit(2);
}
