// A Dubbo "provider" that only records: it accepts consumers on 127.0.0.1,
// keeps every byte they send, cuts the stream into frames, and answers each
// request with a fixed, hand-built response so that the consumer's call
// completes. Used by capture.js; also runnable alone:
//   node record.js [port]      (prints each frame as hex, Ctrl-C to stop)
'use strict';

const net = require('net');

const HEADER_LEN = 16;

// ---- hand-built responses --------------------------------------------------
// Each body is written out byte by byte from the Hessian 2 grammar, not by
// an encoder, so that it can serve as an independent reference for the C
// encoder (tests/unit/dubbo_codec_test.c checks dubbo_response_encode
// against the same bytes).

function hstr(s) {
  // Short ASCII strings only: one length byte 0x00-0x1f, then the bytes.
  if (s.length > 31 || /[^\x00-\x7f]/.test(s)) throw new Error('hstr: ' + s);
  return Buffer.concat([Buffer.from([s.length]), Buffer.from(s, 'latin1')]);
}

const ATTACH_DUBBO = Buffer.concat([
  Buffer.from('48', 'hex'), // 'H' untyped map
  hstr('dubbo'),
  hstr('2.0.2'),
  Buffer.from('5a', 'hex'), // 'Z'
]);

const RESPONSES = {
  // kind 1 (0x91), the string "hello world"
  sayHello: { status: 20, body: Buffer.concat([Buffer.from([0x91]), hstr('hello world')]) },
  // kind 4 (0x94), a com.example.User {name: "world", age: 30}, attachments {dubbo: 2.0.2}
  echoUser: {
    status: 20,
    body: Buffer.concat([
      Buffer.from([0x94, 0x43]), // kind 4, 'C' class definition
      hstr('com.example.User'),
      Buffer.from([0x92]), // 2 fields
      hstr('name'),
      hstr('age'),
      Buffer.from([0x60]), // object of class 0
      hstr('world'),
      Buffer.from([0x90 + 30]), // int 30
      ATTACH_DUBBO,
    ]),
  },
  // kind 5 (0x95): null value with attachments
  mixed: { status: 20, body: Buffer.concat([Buffer.from([0x95]), ATTACH_DUBBO]) },
  // kind 2 (0x92): null value
  noArgs: { status: 20, body: Buffer.from([0x92]) },
  // kind 1, int 7, to a request that has no service version
  ping: { status: 20, body: Buffer.from([0x91, 0x97]) },
  // kind 1, the string the consumer sent back (filled in per request)
  greet: { status: 20, body: null },
  // kind 3 (0x93): a java.lang.IllegalStateException("boom") as
  // dubbo_exception_new builds it, with attachments {dubbo: 2.0.2}
  fail: {
    status: 20,
    body: Buffer.concat([
      Buffer.from([0x93, 0x43]),
      hstr('java.lang.IllegalStateException'),
      Buffer.from([0x94]), // 4 fields
      hstr('detailMessage'),
      hstr('cause'),
      hstr('stackTrace'),
      hstr('suppressedExceptions'),
      Buffer.from([0x60]),
      hstr('boom'),
      Buffer.from([0x4e]), // cause: null
      Buffer.from([0x70]), // typed fixed list of 0 items
      hstr('[java.lang.StackTraceElement'),
      Buffer.from([0x78]), // untyped fixed list of 0 items
      ATTACH_DUBBO,
    ]),
  },
  // a non-OK status: SERVICE_NOT_FOUND (60) with the message as a string
  missing: { status: 60, body: hstr('no such service') },
};

function header(flags, status, idBytes, bodyLen) {
  const h = Buffer.alloc(HEADER_LEN);
  h[0] = 0xda;
  h[1] = 0xbb;
  h[2] = flags;
  h[3] = status;
  idBytes.copy(h, 4);
  h.writeUInt32BE(bodyLen, 12);
  return h;
}

// ---- just enough Hessian to find the method name ---------------------------

// Returns [string or null, next offset]; handles null and the string forms
// a consumer uses for the first five fields.
function readString(buf, pos) {
  const b = buf[pos];
  if (b === 0x4e) return [null, pos + 1];
  let units;
  let p;
  if (b <= 0x1f) {
    units = b;
    p = pos + 1;
  } else if (b >= 0x30 && b <= 0x33) {
    units = ((b - 0x30) << 8) | buf[pos + 1];
    p = pos + 2;
  } else if (b === 0x53) {
    units = buf.readUInt16BE(pos + 1);
    p = pos + 3;
  } else {
    throw new Error(`not a string at ${pos}: 0x${b.toString(16)}`);
  }
  // Lengths count UTF-16 units; CESU-8 lead bytes tell how many bytes each takes.
  const start = p;
  for (let i = 0; i < units; i++) {
    const c = buf[p];
    p += c < 0x80 ? 1 : c < 0xe0 ? 2 : 3;
  }
  return [buf.toString('utf8', start, p), p];
}

function requestFields(body) {
  let pos = 0;
  const out = [];
  for (let i = 0; i < 5; i++) {
    const [s, next] = readString(body, pos);
    out.push(s);
    pos = next;
  }
  return { dubboVersion: out[0], path: out[1], version: out[2], method: out[3], desc: out[4], argsAt: pos };
}

function reply(frame) {
  const flags = frame[2];
  const id = frame.subarray(4, 12);
  const body = frame.subarray(HEADER_LEN);
  if (flags & 0x20) {
    // A heartbeat request: Java answers with an event response whose data is null.
    return Buffer.concat([header(0x22, 20, id, 1), Buffer.from([0x4e])]);
  }
  if (!(flags & 0x40)) return null; // one-way
  const f = requestFields(body);
  const r = RESPONSES[f.method];
  if (!r) throw new Error('no canned response for method ' + f.method);
  let rb = r.body;
  if (rb === null) {
    // greet: send back the first argument, a string, as the value
    const [, end] = readString(body, f.argsAt);
    rb = Buffer.concat([Buffer.from([0x91]), body.subarray(f.argsAt, end)]);
  }
  return Buffer.concat([header(0x02, r.status, id, rb.length), rb]);
}

// ---- the server -------------------------------------------------------------

// Starts listening on 127.0.0.1; resolves to {port, connections,
// serverHeartbeat(conn), close()}. Each connection is {raw: Buffer[] (the
// chunks as read), frames: [{flags, id, method, hex, reply}],
// afterServerHeartbeat: Buffer[] (what arrived after serverHeartbeat)}.
// opts.onFrame(conn, frame) is called for every frame received.
function startRecorder(opts = {}) {
  const connections = [];
  const server = net.createServer((sock) => {
    const conn = { raw: [], frames: [], serverHeartbeatSent: false, afterServerHeartbeat: [], sock };
    connections.push(conn);
    let pending = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      conn.raw.push(Buffer.from(chunk));
      if (conn.serverHeartbeatSent) conn.afterServerHeartbeat.push(Buffer.from(chunk));
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= HEADER_LEN) {
        if (pending[0] !== 0xda || pending[1] !== 0xbb) {
          sock.destroy(new Error('bad magic from consumer: ' + pending.subarray(0, 2).toString('hex')));
          return;
        }
        const total = HEADER_LEN + pending.readUInt32BE(12);
        if (pending.length < total) break;
        const frame = pending.subarray(0, total);
        pending = pending.subarray(total);
        const rec = {
          flags: frame[2],
          id: frame.readBigUInt64BE(4),
          method: frame[2] & 0x20 ? null : requestFields(frame.subarray(HEADER_LEN)).method,
          hex: frame.toString('hex'),
        };
        const out = reply(frame);
        rec.reply = out ? out.toString('hex') : null;
        conn.frames.push(rec);
        if (opts.onFrame) opts.onFrame(conn, rec);
        if (out) sock.write(out);
      }
    });
    sock.on('error', () => {});
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port || 0, '127.0.0.1', () => {
      resolve({
        port: server.address().port,
        connections,
        // Sends a heartbeat request to the consumer (Java providers do this
        // on idle connections) and remembers what comes back.
        serverHeartbeat(conn) {
          conn.serverHeartbeatSent = true;
          const id = Buffer.alloc(8);
          id.writeBigUInt64BE(1000n);
          conn.sock.write(Buffer.concat([header(0xe2, 0, id, 1), Buffer.from([0x4e])]));
        },
        close() {
          for (const c of connections) c.sock.destroy();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

module.exports = { startRecorder, RESPONSES, requestFields, readString };

if (require.main === module) {
  const port = Number(process.argv[2] || 20880);
  startRecorder({
    port,
    onFrame(conn, f) {
      console.log(`frame flags=0x${f.flags.toString(16)} id=${f.id} method=${f.method} ${f.hex}`);
    },
  }).then((r) => console.log(`recording on 127.0.0.1:${r.port}`));
}
