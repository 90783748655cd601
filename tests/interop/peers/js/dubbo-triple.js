'use strict';
// The @apachedubbo/dubbo (dubbo-js 3) Triple peer: helloworld.Greeter
// (tools/proto/helloworld.proto) as a client and as a server, its messages
// and service described with @bufbuild/protobuf's runtime API (no code
// generation).
//
//   node dubbo-triple.js client --addr HOST:PORT --transport grpc|triple
//                               [--cases idl_say_hello,idl_stream,idl_exception]
//       one line per case: "RESULT <case> PASS|FAIL <detail>"; exit 1 when a
//       case failed. --transport grpc: createGrpcTransport (gRPC over
//       HTTP/2); triple: createDubboTransport (dubbo-js's Triple: unary as
//       application/proto POSTs, streams as application/connect+proto).
//   node dubbo-triple.js server [--port P]
//       serves Greeter on 127.0.0.1 over HTTP/2 without TLS (gRPC, gRPC-web
//       and Triple requests): SayHello -> "Hello <name>", SayHelloStream ->
//       "Hello <name> 0".."2", the name "boom" -> Code.Unknown "boom";
//       prints "READY <port>", exits 0 on SIGTERM.

const http2 = require('http2');
const { proto3, ScalarType, MethodKind } = require('@bufbuild/protobuf');
const { createPromiseClient, DubboError, Code } = require('@apachedubbo/dubbo');
const {
  createGrpcTransport,
  createDubboTransport,
  dubboNodeAdapter,
} = require('@apachedubbo/dubbo-node');

// message HelloRequest { string name = 1; }, message HelloReply { string message = 1; }
const HelloRequest = proto3.makeMessageType('helloworld.HelloRequest', [
  { no: 1, name: 'name', kind: 'scalar', T: ScalarType.STRING },
]);
const HelloReply = proto3.makeMessageType('helloworld.HelloReply', [
  { no: 1, name: 'message', kind: 'scalar', T: ScalarType.STRING },
]);

// service Greeter: the keys are the JavaScript method names
const Greeter = {
  typeName: 'helloworld.Greeter',
  methods: {
    sayHello: { name: 'SayHello', I: HelloRequest, O: HelloReply, kind: MethodKind.Unary },
    sayHelloStream: {
      name: 'SayHelloStream', I: HelloRequest, O: HelloReply, kind: MethodKind.ServerStreaming,
    },
  },
};

const CASES = ['idl_say_hello', 'idl_stream', 'idl_exception'];

function args(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(.+)$/.exec(argv[i]);
    if (!m || i + 1 >= argv.length) throw new Error('bad argument ' + argv[i]);
    o[m[1]] = argv[++i];
  }
  return o;
}

function errText(e) {
  return e instanceof DubboError ? `code ${Code[e.code]} (${e.code}): ${e.rawMessage}` : String(e);
}

async function client(o) {
  const baseUrl = 'http://' + o.addr;
  let transport;
  if (o.transport === 'grpc') {
    transport = createGrpcTransport({ baseUrl, httpVersion: '2' });
  } else if (o.transport === 'triple') {
    transport = createDubboTransport({ baseUrl, httpVersion: '2' });
  } else {
    throw new Error('--transport grpc or triple');
  }
  const greeter = createPromiseClient(Greeter, transport);
  const opts = { timeoutMs: 10000 };
  const run = {
    async idl_say_hello() {
      const r = await greeter.sayHello({ name: 'dubbo-js' }, opts);
      if (r.message !== 'Hello dubbo-js') throw new Error(`got "${r.message}"`);
      return `"${r.message}"`;
    },
    async idl_stream() {
      const got = [];
      for await (const r of greeter.sayHelloStream({ name: 'dubbo-js' }, opts)) got.push(r.message);
      const want = ['Hello dubbo-js 0', 'Hello dubbo-js 1', 'Hello dubbo-js 2'];
      if (got.join('|') !== want.join('|')) {
        throw new Error(`got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
      }
      return `${got.length} messages ${JSON.stringify(got)}`;
    },
    async idl_exception() {
      let r;
      try {
        r = await greeter.sayHello({ name: 'boom' }, opts);
      } catch (e) {
        if (e instanceof DubboError && e.code === Code.Unknown && e.rawMessage.includes('boom')) {
          return errText(e);
        }
        throw new Error('want code Unknown with "boom", got ' + errText(e));
      }
      throw new Error(`no error, the reply "${r.message}"`);
    },
  };
  let failed = 0;
  for (const name of (o.cases || CASES.join(',')).split(',')) {
    let line;
    try {
      if (!run[name]) throw new Error('no such case');
      line = `RESULT ${name} PASS ${await run[name]()}`;
    } catch (e) {
      failed++;
      line = `RESULT ${name} FAIL ${(e instanceof DubboError ? errText(e) : e.message || String(e))}`;
    }
    process.stdout.write(line.replace(/\s+/g, ' ') + '\n');
  }
  return failed ? 1 : 0;
}

function server(o) {
  const routes = (router) => router.service(Greeter, {
    async sayHello(req) {
      if (req.name === 'boom') throw new DubboError('boom', Code.Unknown);
      return { message: 'Hello ' + req.name };
    },
    async *sayHelloStream(req) {
      if (req.name === 'boom') throw new DubboError('boom', Code.Unknown);
      for (let i = 0; i < 3; i++) yield { message: `Hello ${req.name} ${i}` };
    },
  });
  const srv = http2.createServer(dubboNodeAdapter({ routes }));
  srv.listen(Number(o.port || 0), '127.0.0.1', () => {
    process.stdout.write(`READY ${srv.address().port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}

async function main() {
  const [mode, ...rest] = process.argv.slice(2);
  const o = args(rest);
  if (mode === 'client') {
    if (!o.addr || !o.transport) throw new Error('client needs --addr and --transport');
    // the transport's HTTP/2 session would keep the process alive
    process.exit(await client(o));
  } else if (mode === 'server') {
    server(o);
  } else {
    throw new Error('usage: dubbo-triple.js client|server ...');
  }
}

main().catch((e) => {
  process.stderr.write('dubbo-triple.js: ' + (e.stack || e) + '\n');
  process.exit(2);
});
