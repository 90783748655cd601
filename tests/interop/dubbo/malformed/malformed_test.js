// Malformed-frame table against a live demo provider.
//
//   node malformed_test.js --cli build/tools/dubbo [--peers tests/interop/peers]
//                          [--port N] [--only SUBSTRING] [--verbose]
//
// Each case opens its own connection to `dubbo demo provider`, sends bytes a
// hostile or broken peer could send, and checks the provider's answer:
//   close        the provider closes the connection without answering, and
//                its stderr names the reason for this very connection
//                ("closing connection from 127.0.0.1:<our port> ...: <why>")
//   bad_request  a status-40 BAD_REQUEST answer for the request id, whose
//                error string names the problem; the connection stays usable
//   ignored      no answer, no close; the same connection still serves
//   waits        no answer, no close (an incomplete frame inside the limits)
//   peer_close   we close mid-frame; the provider closes its side silently
//   ok / status  a normal answer (boundary cases that must keep working)
// After every case a fresh connection's sayHello must still work, and at the
// end the provider must exit 0 on SIGTERM with no sanitizer report.
// Expectations follow src/runtime/server.c: framing errors (magic, payload
// limit) close the connection; body decode errors and unknown serialization
// ids answer 40.
// Exit status: 0 all passed, 1 failures, 77 hessian.js missing (skip).
'use strict';

const net = require('net');
const path = require('path');
const fs = require('fs');
const { startProvider, parseArgs } = require('../node/provider');

// Each case checks the provider's own log line for it; the provider rate
// limits repeated protocol warnings (10 a second by default), so this test
// lifts the limit for the provider it starts.
process.env.DUBBO_LOG_LIMIT = '0';

const IFACE = 'org.apache.dubbo.demo.DemoService';
const QUIET_MS = 300; // "nothing happens" is judged over this long
const ANSWER_MS = 5000;
let hessian = null; // hessian.js, to read answer bodies

// ---- building bytes ------------------------------------------------------------

const B = (...parts) =>
  Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : typeof p === 'string'
    ? Buffer.from(p, 'latin1') : Buffer.from(Array.isArray(p) ? p : [p]))));

/* A hessian string (compact, 0x30 or 'S' form) of a string of BMP chars. */
function hs(s) {
  const bytes = Buffer.from(s, 'utf8');
  const n = s.length; // UTF-16 units; the tests only use BMP text
  if (n <= 31) return B([n], bytes);
  if (n <= 1023) return B([0x30 + (n >> 8), n & 0xff], bytes);
  if (n > 0xffff) throw new Error('hs: string too long for one chunk');
  return B('S', [n >> 8, n & 0xff], bytes);
}

/* A hessian int. */
function hi(n) {
  if (n >= -16 && n <= 47) return B([0x90 + n]);
  const b = Buffer.alloc(5);
  b[0] = 0x49;
  b.writeInt32BE(n, 1);
  return b;
}

/* An untyped hessian map of string -> string. */
function hmap(obj) {
  return B('H', ...Object.entries(obj).map(([k, v]) => B(hs(k), hs(v))), 'Z');
}

const ATT = hmap({ path: IFACE, interface: IFACE, version: '0.0.0' });

/* A request body; any field may be given as raw bytes (a Buffer). */
function body({ dv = '2.0.2', path: p = IFACE, ver = '', method = 'sayHello',
                desc = 'Ljava/lang/String;', args = [hs('world')], att = ATT } = {}) {
  const f = (v) => (Buffer.isBuffer(v) ? v : hs(v));
  return B(f(dv), f(p), f(ver), f(method), f(desc), ...args, att === null ? B() : att);
}

/* A frame: flags 0xc2 (request, two-way, hessian2) unless told. `len`
 * overrides the body length written in the header. */
function frame(id, b = body(), { flags = 0xc2, status = 0, len } = {}) {
  const h = Buffer.alloc(16);
  h[0] = 0xda;
  h[1] = 0xbb;
  h[2] = flags;
  h[3] = status;
  h.writeBigUInt64BE(BigInt(id), 4);
  h.writeUInt32BE(len === undefined ? b.length : len, 12);
  return B(h, b);
}

const hello = (id, name = 'world') => frame(id, body({ args: [hs(name)] }));

// ---- a raw connection -------------------------------------------------------------

class Raw {
  static open(port) {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new Raw(s)));
      s.once('error', reject);
    });
  }

  constructor(sock) {
    this.sock = sock;
    this.localPort = sock.localPort;
    this.buf = Buffer.alloc(0);
    this.received = 0;
    this.closed = false;
    this.error = null;
    this.waiters = new Set();
    sock.setNoDelay(true);
    sock.removeAllListeners('error');
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.received += d.length;
      this.wake();
    });
    sock.on('end', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', (e) => {
      this.error = e; // ECONNRESET / EPIPE when the provider closed first
      this.closed = true;
      this.wake();
    });
  }

  wake() {
    for (const w of [...this.waiters]) w();
  }

  /* Resolve when pred() is true (true) or after ms (false). */
  until(pred, ms) {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (v) => {
        clearTimeout(t);
        this.waiters.delete(check);
        resolve(v);
      };
      const check = () => pred() && done(true);
      const t = setTimeout(() => done(false), ms);
      this.waiters.add(check);
    });
  }

  write(data) {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      this.sock.write(data, () => resolve());
    });
  }

  /* Send data in pieces: [Buffer | {delay: ms} | {end: true}]. */
  async send(steps) {
    for (const s of steps) {
      if (Buffer.isBuffer(s)) await this.write(s);
      else if (s.delay) await new Promise((r) => setTimeout(r, s.delay));
      else if (s.end) this.sock.end();
    }
  }

  /* The next whole frame, or null if none arrives within ms. */
  async frame(ms = ANSWER_MS) {
    const whole = () => this.buf.length >= 16 && this.buf.length >= 16 + this.buf.readUInt32BE(12);
    await this.until(() => whole() || this.closed, ms);
    if (!whole()) return null;
    const len = this.buf.readUInt32BE(12);
    const f = {
      magic: this.buf.readUInt16BE(0),
      flags: this.buf[2],
      status: this.buf[3],
      id: this.buf.readBigUInt64BE(4),
      body: this.buf.subarray(16, 16 + len),
    };
    this.buf = this.buf.subarray(16 + len);
    return f;
  }

  destroy() {
    this.sock.destroy();
  }
}

/* Decode the values of a hessian body (answer bodies). */
function values(b) {
  const d = new hessian.DecoderV2(b);
  const out = [];
  while (d.byteBuffer.position() < b.length) out.push(d.read());
  return out;
}

function describe(f) {
  let v;
  try {
    v = JSON.stringify(values(f.body));
  } catch (e) {
    v = `<undecodable: ${f.body.toString('hex')}>`;
  }
  return `frame id ${f.id} flags 0x${f.flags.toString(16)} status ${f.status} body ${v}`;
}

/* Assert that `f` answers request `id` of sayHello(name). */
function checkHello(f, id, name) {
  if (!f) throw new Error(`no answer to sayHello request ${id}`);
  if (f.id !== BigInt(id) || f.status !== 20) throw new Error(`sayHello answer: ${describe(f)}`);
  const [kind, value] = values(f.body);
  if ((kind !== 1 && kind !== 4) || value !== `Hello ${name}`) {
    throw new Error(`sayHello answer: ${describe(f)}`);
  }
}

async function helloWorks(conn, id, name) {
  await conn.write(hello(id, name));
  checkHello(await conn.frame(), id, name);
}

// ---- the table ------------------------------------------------------------------------
//
// { name, send: [steps] or (id) => [steps], expect, msg: RegExp (error string
//   for bad_request, log reason for close), answers: max answers allowed
//   before a close (default 0), check(frames, id) for ok cases }

const ID = 0x1000; // each case sends request id ID + its index

const nested = (depth, open, leaf) => B(Buffer.alloc(depth, open), leaf);

const CASES = [
  // -- framing: the provider closes the connection --------------------------------
  { name: 'bad magic, both bytes', send: () => [B([0, 0]), Buffer.alloc(14)],
    expect: 'close', msg: /bad magic 0x0000/ },
  { name: 'bad magic, second byte only', send: (id) => [B([0xda, 0x00]), hello(id).subarray(2)],
    expect: 'close', msg: /bad magic 0xda00/ },
  { name: 'bad magic, first byte only', send: (id) => [B([0xbb], hello(id).subarray(1))],
    expect: 'close', msg: /bad magic 0xbbbb/ },
  { name: 'a single garbage byte', send: () => [B([0x00])],
    expect: 'close', msg: /bad magic 0x00/ },
  { name: 'an HTTP request on the Dubbo port',
    send: () => [B('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')],
    expect: 'close', msg: /bad magic 0x4745/ },
  { name: 'a TLS ClientHello', send: () => [B([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00])],
    expect: 'close', msg: /bad magic 0x1603/ },
  { name: 'body length 8 MiB + 1, header only',
    send: (id) => [frame(id, B(), { len: 8 * 1024 * 1024 + 1 })],
    expect: 'close', msg: /8388609 bytes exceeds the payload limit of 8388608/ },
  { name: 'body length 0xffffffff, header only',
    send: (id) => [frame(id, B(), { len: 0xffffffff })],
    expect: 'close', msg: /4294967295 bytes exceeds the payload limit/ },
  { name: 'body length exactly 8 MiB, header only (allowed: waits for the body)',
    send: (id) => [frame(id, B(), { len: 8 * 1024 * 1024 })], expect: 'waits' },
  // An unknown serialization id on a request is answered 40 naming it (as
  // Java's provider does); the connection stays usable.
  { name: 'serialization id 3 (java)', send: (id) => [frame(id, body(), { flags: 0xc3 })],
    expect: 'bad_request', msg: /unsupported serialization id 3\b/ },
  { name: 'serialization id 25', send: (id) => [frame(id, body(), { flags: 0xc0 | 25 })],
    expect: 'bad_request', msg: /unsupported serialization id 25\b/ },
  { name: 'serialization id 0x1f', send: (id) => [frame(id, body(), { flags: 0xdf })],
    expect: 'bad_request', msg: /unsupported serialization id 31\b/ },
  { name: 'serialization id 0 on a request', send: (id) => [frame(id, body(), { flags: 0xc0 })],
    expect: 'bad_request', msg: /unsupported serialization id 0\b/ },
  // a response sent to a provider answers nothing, whatever its id
  { name: 'a response frame with serialization id 3',
    send: (id) => [frame(id, B([0x91, 0x4e]), { flags: 0x03, status: 20 })],
    expect: 'ignored' },
  { name: 'a valid request then garbage in the same write',
    send: (id) => [B(hello(id), 'garbage!')], expect: 'close', msg: /bad magic 0x6761/,
    answers: 1 },
  { name: 'header body length 4 bytes short (the rest reads as a bad frame)',
    send: (id) => {
      const f = hello(id);
      f.writeUInt32BE(f.length - 16 - 4, 12);
      return [f];
    },
    expect: 'close', msg: /bad magic/, answers: 1 },

  // -- the peer goes away mid-frame ---------------------------------------------------
  { name: 'truncated header, then the client closes',
    send: () => [B([0xda, 0xbb, 0xc2]), { end: true }], expect: 'peer_close' },
  { name: 'truncated body, then the client closes',
    send: (id) => [hello(id).subarray(0, 40), { end: true }], expect: 'peer_close' },
  { name: 'valid request sent one byte at a time',
    send: (id) => [...hello(id, 'slow')].flatMap((b) => [B([b]), { delay: 1 }]),
    expect: 'ok', check: (f, id) => checkHello(f, id, 'slow') },

  // -- body decode errors: BAD_REQUEST (40) naming the problem ------------------------
  { name: 'empty body', send: (id) => [frame(id, B())],
    expect: 'bad_request', msg: /dubbo version/ },
  { name: 'dubbo version is an int', send: (id) => [frame(id, body({ dv: hi(2) }))],
    expect: 'bad_request', msg: /dubbo version/ },
  { name: 'service path is an int', send: (id) => [frame(id, body({ path: hi(7) }))],
    expect: 'bad_request', msg: /service path/ },
  { name: 'service path is null', send: (id) => [frame(id, body({ path: B('N') }))],
    expect: 'bad_request', msg: /without a service path/ },
  { name: 'service version is a list',
    send: (id) => [frame(id, body({ ver: B([0x79], hs('1.0')) }))],
    expect: 'bad_request', msg: /service version/ },
  { name: 'method name is a boolean', send: (id) => [frame(id, body({ method: B('T') }))],
    expect: 'bad_request', msg: /method name/ },
  { name: 'method name is null', send: (id) => [frame(id, body({ method: B('N') }))],
    expect: 'bad_request', msg: /without a method name/ },
  { name: 'descriptor is a double', send: (id) => [frame(id, body({ desc: B([0x5c]) }))],
    expect: 'bad_request', msg: /parameter types/ },
  { name: 'descriptor "Lfoo" (no \';\')', send: (id) => [frame(id, body({ desc: 'Lfoo' }))],
    expect: 'bad_request', msg: /descriptor "Lfoo".*without ';'/ },
  { name: 'descriptor "Q" (no such type)', send: (id) => [frame(id, body({ desc: 'Q' }))],
    expect: 'bad_request', msg: /descriptor "Q".*unexpected 'Q'/ },
  { name: 'descriptor declares 2 args, 1 present, no attachments',
    send: (id) => [frame(id, body({ desc: 'Ljava/lang/String;I', att: null }))],
    expect: 'bad_request', msg: /argument 1/ },
  { name: 'descriptor declares 3 args, 1 present + attachments',
    send: (id) => [frame(id, body({ desc: 'Ljava/lang/String;II' }))],
    expect: 'bad_request', msg: /argument 2/ },
  { name: 'descriptor declares no args, 1 present',
    send: (id) => [frame(id, body({ desc: '' }))],
    expect: 'bad_request', msg: /attachments must be a map, found a value of type string/ },
  { name: 'reserved bytecode 0x40 as an argument',
    send: (id) => [frame(id, body({ args: [B([0x40])] }))],
    expect: 'bad_request', msg: /argument 0.*0x40/ },
  { name: 'reserved bytecode 0x45 as an argument',
    send: (id) => [frame(id, body({ args: [B([0x45])] }))],
    expect: 'bad_request', msg: /argument 0.*0x45/ },
  { name: "terminator 'Z' where a value belongs", send: (id) => [frame(id, body({ args: [B('Z')] }))],
    expect: 'bad_request', msg: /argument 0/ },
  { name: 'invalid UTF-8 in a string (ff fe)',
    send: (id) => [frame(id, body({ args: [B([0x02, 0xff, 0xfe])] }))],
    expect: 'bad_request', msg: /argument 0.*(UTF-8|CESU)/i },
  { name: 'UTF-8 sequence cut short (e4 then ASCII)',
    send: (id) => [frame(id, body({ args: [B([0x02, 0xe4, 0x41, 0x42])] }))],
    expect: 'bad_request', msg: /argument 0.*(UTF-8|CESU)/i },
  { name: 'value reference past the table', send: (id) => [frame(id, body({ args: [B([0x51, 0x95])] }))],
    expect: 'bad_request', msg: /argument 0.*ref/i },
  { name: 'object of an undefined class definition',
    send: (id) => [frame(id, body({ args: [B([0x60])] }))],
    expect: 'bad_request', msg: /argument 0.*(class|definition)/i },
  { name: 'typed list with a type reference past the table',
    send: (id) => [frame(id, body({ args: [B([0x71, 0x95, 0x90])] }))],
    expect: 'bad_request', msg: /argument 0.*type/i },
  { name: 'lists nested 600 deep (limit 512)',
    send: (id) => [frame(id, body({ args: [nested(600, 0x79, B('N'))] }))],
    expect: 'bad_request', msg: /argument 0.*(depth|deep|nest)/i },
  { name: 'maps nested 200000 deep, unterminated',
    send: (id) => [frame(id, body({ args: [nested(200000, 0x48, B())], att: null }))],
    expect: 'bad_request', msg: /argument 0.*(depth|deep|nest)/i },
  { name: 'lists nested 500 deep (under the limit) echo back',
    send: (id) => [frame(id, body({ method: 'echo', desc: 'Ljava/lang/Object;',
                                    args: [nested(500, 0x79, hi(1))] }))],
    expect: 'ok', check: (f, id) => {
      if (!f || f.id !== BigInt(id) || f.status !== 20) throw new Error(`answer: ${f && describe(f)}`);
      let [, v] = values(f.body);
      for (let i = 0; i < 500; i++) {
        if (!Array.isArray(v) || v.length !== 1) throw new Error(`level ${i}: ${JSON.stringify(v)}`);
        v = v[0];
      }
      if (v !== 1) throw new Error(`innermost value ${JSON.stringify(v)}`);
    } },
  { name: 'list of negative length -1', send: (id) => [frame(id, body({ args: [B('X', hi(-1))] }))],
    expect: 'bad_request', msg: /argument 0.*(negative|length)/i },
  { name: 'list claiming 2^31-1 elements, none sent',
    send: (id) => [frame(id, body({ args: [B('X', hi(0x7fffffff))], att: null }))],
    expect: 'bad_request', msg: /argument 0/ },
  { name: 'map key without a value', send: (id) => [frame(id, body({ args: [B('H', hi(0), 'Z')] }))],
    expect: 'bad_request', msg: /argument 0/ },
  { name: 'string declaring 4096 chars, 3 sent',
    send: (id) => [frame(id, body({ args: [B('S', [0x10, 0x00], 'abc')], att: null }))],
    expect: 'bad_request', msg: /argument 0/ },
  { name: 'string chunk followed by an int',
    send: (id) => [frame(id, body({ args: [B('R', [0x00, 0x01], 'a', hi(5))] }))],
    expect: 'bad_request', msg: /argument 0/ },
  { name: 'binary declaring 4096 bytes, 2 sent',
    send: (id) => [frame(id, body({ args: [B('B', [0x10, 0x00], [1, 2])], att: null }))],
    expect: 'bad_request', msg: /argument 0/ },
  { name: 'class definition with -1 fields',
    send: (id) => [frame(id, body({ args: [B('C', hs('A'), hi(-1), [0x60])] }))],
    expect: 'bad_request', msg: /argument 0/ },
  { name: 'class definition field name is an int',
    send: (id) => [frame(id, body({ args: [B('C', hs('A'), hi(1), hi(3), [0x60], hi(1))] }))],
    expect: 'bad_request', msg: /argument 0/ },
  { name: 'attachments are an int', send: (id) => [frame(id, body({ att: hi(5) }))],
    expect: 'bad_request', msg: /attachments must be a map, found a value of type int/ },
  { name: 'attachments are a list', send: (id) => [frame(id, body({ att: B([0x79], hs('x')) }))],
    expect: 'bad_request', msg: /attachments must be a map, found a value of type list/ },
  { name: 'invalid bytecode inside the attachments',
    send: (id) => [frame(id, body({ att: B('H', hs('k'), [0x40], 'Z') }))],
    expect: 'bad_request', msg: /attachments/ },
  { name: 'trailing garbage after the attachments',
    send: (id) => [frame(id, body({ att: B(ATT, hi(1), hi(2)) }))],
    expect: 'bad_request', msg: /2 trailing bytes/ },

  // -- frames that are not requests, one-way, several frames --------------------------
  { name: 'a response frame sent to the provider',
    send: (id) => [frame(id, B([0x91], hs('x')), { flags: 0x02, status: 20 })], expect: 'ignored' },
  { name: 'two-way heartbeat (body N) is answered',
    send: (id) => [frame(id, B('N'), { flags: 0xe2 })], expect: 'ok',
    check: (f, id) => {
      if (!f || f.id !== BigInt(id) || f.status !== 20 || !(f.flags & 0x20) || (f.flags & 0x80)) {
        throw new Error(`heartbeat answer: ${f && describe(f)}`);
      }
    } },
  { name: 'two-way event with an undecodable body',
    send: (id) => [frame(id, B([0x40, 0x45, 0xff]), { flags: 0xe2 })], expect: 'event_or_ignored' },
  { name: 'one-way readonly event from the client',
    send: (id) => [frame(id, hs('R'), { flags: 0xa2 })], expect: 'ignored' },
  { name: 'one-way request with a broken body (no answer, no close)',
    send: (id) => [frame(id, body({ path: hi(7) }), { flags: 0x82 })], expect: 'ignored' },
  { name: 'broken request then a valid one in one write',
    send: (id) => [B(frame(id, body({ method: B('T') })), hello(id + 1, 'next'))],
    expect: 'ok', check: async (f, id, conn) => {
      const frames = [f, await conn.frame()];
      const bad = frames.find((x) => x && x.id === BigInt(id));
      const good = frames.find((x) => x && x.id === BigInt(id + 1));
      if (!bad || bad.status !== 40) {
        throw new Error(`no 40 for the broken request: ${frames.map((x) => x && describe(x))}`);
      }
      checkHello(good, id + 1, 'next');
    } },
  { name: 'no attachments at all (very old peers) is served',
    send: (id) => [frame(id, body({ att: null }))], expect: 'ok',
    check: (f, id) => checkHello(f, id, 'world') },
  { name: 'attachments null is served', send: (id) => [frame(id, body({ att: B('N') }))],
    expect: 'ok', check: (f, id) => checkHello(f, id, 'world') },
  { name: 'attachment values that are not strings are ignored',
    send: (id) => [frame(id, body({ att: B('H', hs('interface'), hi(3), hs('version'), 'T',
                                            hs('group'), B([0x79], hs('g')), hi(1), hi(2), 'Z') }))],
    expect: 'ok', check: (f, id) => checkHello(f, id, 'world') },
  { name: 'dubbo version null: served, answer without attachments (kind 1)',
    send: (id) => [frame(id, body({ dv: B('N') }))], expect: 'ok',
    check: (f, id) => {
      checkHello(f, id, 'world');
      if (values(f.body)[0] !== 1) throw new Error(`answer kind: ${describe(f)}`);
    } },
  { name: 'request id 2^64-1 is echoed', send: () => [hello(0xffffffffffffffffn, 'max')],
    expect: 'ok', check: (f) => checkHello(f, 0xffffffffffffffffn, 'max') },
  { name: 'unknown service -> SERVICE_NOT_FOUND (60)',
    send: (id) => [frame(id, body({ path: 'com.example.Nope',
                                    att: hmap({ path: 'com.example.Nope',
                                                interface: 'com.example.Nope' }) }))],
    expect: 'ok',
    check: (f, id) => {
      if (!f || f.id !== BigInt(id) || f.status !== 60) throw new Error(`answer: ${f && describe(f)}`);
      if (!/Not found exported service: com\.example\.Nope/.test(values(f.body)[0])) {
        throw new Error(describe(f));
      }
    } },
  { name: 'echo of a list of 1,000,000 nulls (amplification)',
    send: (id) => [frame(id, body({ method: 'echo', desc: 'Ljava/lang/Object;',
                                    args: [B('X', hi(1000000), Buffer.alloc(1000000, 0x4e))] }))],
    expect: 'ok', check: (f, id) => {
      if (!f || f.id !== BigInt(id) || f.status !== 20) throw new Error(`answer: ${f && describe(f)}`);
      const [, v] = values(f.body);
      if (!Array.isArray(v) || v.length !== 1000000 || v.some((x) => x !== null)) {
        throw new Error('the list came back changed');
      }
    } },
];

// ---- running a case ----------------------------------------------------------------

/* Wait until the provider's stderr has a line matching re. */
async function logLine(provider, re, ms = 2000) {
  const t0 = Date.now();
  for (;;) {
    const line = provider.stderr().split('\n').find((l) => re.test(l));
    if (line) return line;
    if (Date.now() - t0 > ms) return null;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function escape(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function runCase(c, id, provider) {
  const conn = await Raw.open(provider.port);
  const from = `${escape(`from 127.0.0.1:${conn.localPort}`)}\\b`; // a regex
  const notes = [];
  try {
    await conn.send(typeof c.send === 'function' ? c.send(id) : c.send);
    switch (c.expect) {
    case 'close': {
      const frames = [];
      const closed = await conn.until(() => conn.closed, ANSWER_MS);
      if (!closed) throw new Error(`connection still open after ${ANSWER_MS} ms`);
      for (let f; (f = await conn.frame(0));) frames.push(f);
      if (frames.length > (c.answers || 0) || conn.buf.length) {
        throw new Error(`answered before closing: ${frames.map(describe).join('; ')}` +
                        (conn.buf.length ? ` + ${conn.buf.length} stray bytes` : ''));
      }
      if (frames.length) notes.push(`${frames.length} answer(s) before the close`);
      const re = new RegExp(`closing connection ${from}.*: .*${c.msg.source}`);
      const line = await logLine(provider, re);
      if (!line) throw new Error(`no log line matching ${re}`);
      notes.push(line.replace(/^.*?: (dubbo: )?/, ''));
      break;
    }
    case 'bad_request': {
      const f = await conn.frame();
      if (!f) throw new Error(conn.closed ? 'connection closed instead of a 40 answer'
                                          : `no answer within ${ANSWER_MS} ms`);
      if (f.id !== BigInt(id) || f.status !== 40) throw new Error(`expected status 40: ${describe(f)}`);
      const [msg] = values(f.body);
      if (typeof msg !== 'string' || !c.msg.test(msg)) {
        throw new Error(`error string ${JSON.stringify(msg)} does not match ${c.msg}`);
      }
      notes.push(msg);
      const line = await logLine(provider, new RegExp(`bad request ${id} ${from}`));
      if (!line) throw new Error('no "bad request" log line for it');
      await helloWorks(conn, id + 1, 'same');
      break;
    }
    case 'ignored':
    case 'event_or_ignored': {
      await conn.until(() => conn.closed || conn.buf.length >= 16, QUIET_MS);
      if (conn.closed) throw new Error('the provider closed the connection');
      if (conn.buf.length) {
        const f = await conn.frame();
        const heartbeat = f && f.id === BigInt(id) && f.status === 20 && (f.flags & 0x20) &&
                          !(f.flags & 0x80);
        if (c.expect !== 'event_or_ignored' || !heartbeat) throw new Error(`answered: ${describe(f)}`);
        notes.push(`answered as a heartbeat: ${describe(f)}`);
      } else {
        notes.push('no answer');
      }
      await helloWorks(conn, id + 1, 'same');
      break;
    }
    case 'waits':
      await conn.until(() => conn.closed || conn.received > 0, QUIET_MS);
      if (conn.closed || conn.received) throw new Error('the provider answered or closed');
      break;
    case 'peer_close': {
      const closed = await conn.until(() => conn.closed, ANSWER_MS);
      if (!closed) throw new Error('the provider kept its side open');
      if (conn.received) throw new Error(`the provider sent ${conn.received} bytes`);
      break;
    }
    case 'ok':
      await c.check(await conn.frame(), id, conn);
      break;
    default:
      throw new Error(`bad expectation ${c.expect}`);
    }
  } finally {
    conn.destroy();
  }
  // The provider keeps serving: a fresh connection's sayHello works.
  const fresh = await Raw.open(provider.port);
  try {
    await helloWorks(fresh, id + 2, 'after');
  } catch (e) {
    throw new Error(`afterwards a fresh connection's sayHello failed: ${e.message}`);
  } finally {
    fresh.destroy();
  }
  return notes;
}

/* Whether the provider still answers sayHello on a fresh connection; if
 * not, waits for its process to end (a sanitizer report takes a moment). */
async function alive(provider) {
  try {
    const c = await Raw.open(provider.port);
    try {
      await helloWorks(c, 1, 'alive');
      return true;
    } finally {
      c.destroy();
    }
  } catch (e) {
    await Promise.race([provider.exited, new Promise((r) => setTimeout(r, 10000))]);
    return false;
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2),
                      { cli: 'value', peers: 'value', port: 'value', only: 'value', verbose: 'flag' });
  if (!o.cli) throw new Error('--cli PATH is required');
  const peers = path.resolve(o.peers || path.join(__dirname, '../../peers'));
  const hjs = path.join(peers, 'node_modules', 'hessian.js');
  if (!fs.existsSync(hjs)) {
    console.log(`SKIP: hessian.js not installed in ${peers} (run scripts/setup.sh)`);
    process.exit(77);
  }
  hessian = require(hjs);

  const t0 = Date.now();
  const cli = path.resolve(o.cli);
  let provider = await startProvider(cli, Number(o.port || 0));
  console.log(`provider on 127.0.0.1:${provider.port}; ${CASES.length} cases`);
  let failed = 0;
  let ran = 0;
  const stderrs = []; // of providers that died
  for (let i = 0; i < CASES.length; i++) {
    const c = CASES[i];
    if (o.only && !c.name.includes(o.only)) continue;
    ran++;
    const ct = Date.now();
    let ok = false;
    try {
      const notes = await runCase(c, ID + i * 4, provider);
      ok = true;
      console.log(`PASS ${c.name} [${c.expect}] (${Date.now() - ct} ms)` +
                  (o.verbose && notes.length ? `\n     ${notes.join('\n     ')}` : ''));
    } catch (e) {
      failed++;
      console.log(`FAIL ${c.name} [${c.expect}]: ${e.message}`);
    }
    // A provider that died (crash, sanitizer abort) fails the case that
    // killed it; a new one serves the rest of the table.
    if (!ok && !(await alive(provider))) {
      const err = provider.stderr();
      const why = (/SUMMARY: .*/.exec(err) || /ERROR: .*/.exec(err) ||
                   [`exit ${provider.proc.exitCode}`])[0];
      console.log(`FAIL ${c.name}: the provider died (${why}); restarting it`);
      stderrs.push(err);
      if (ok) failed++;
      provider = await startProvider(cli, Number(o.port || 0));
    }
  }
  const st = await provider.stop();
  const err = stderrs.concat(provider.stderr()).join('---- (restarted) ----\n');
  const shut = [
    ['provider exits 0 on SIGTERM', st.code === 0 && !st.killed, `code ${st.code}, signal ${st.signal}`],
    ['provider stderr has no sanitizer report',
     !/AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer/.test(provider.stderr()),
     'see stderr below'],
  ];
  for (const [name, ok, detail] of shut) {
    console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${ok ? '' : `: ${detail}`}`);
    if (!ok) failed++;
  }
  if (failed || o.verbose) {
    // Sanitizer stack traces repeat one frame pair hundreds of times.
    const short = err.split('\n').filter((l, k, a) => !/^ {4}#\d+ /.test(l) ||
      /^ {4}#[0-9] /.test(l)).join('\n');
    process.stdout.write(`---- provider stderr ----\n${short}\n`);
  }
  console.log(`${failed ? 'FAILED' : 'OK'}: ${failed} failure(s), ${ran} cases + ${shut.length} ` +
              `shutdown checks in ${Date.now() - t0} ms`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(`FAIL: ${e.stack || e.message}`);
  process.exit(1);
});
