#!/usr/bin/env node
// The Node gRPC peer of the Triple proof (@grpc/grpc-js, @grpc/proto-loader
// from tests/interop/peers). Written for dubbo-c.
//
//   node_peer.js client --server HOST:PORT [--cases a,b,...]
//       runs the cases (CASES below) against the server, one line each:
//       "PASS <case>" or "FAIL <case>: <reason>"; exit 0 iff all passed
//   node_peer.js server [--port N] [--host ADDR]
//       serves grpc.testing.TestService (as gRPC's interop server does) and
//       helloworld.Greeter, prints "LISTENING <port>" when ready (port 0,
//       the default, picks one), runs until SIGTERM/SIGINT
//
// The protos are the project's own (tools/proto); --proto-dir overrides.
'use strict';

const path = require('path');
const peers = path.join(__dirname, '..', 'peers', 'node_modules');
const grpc = require(path.join(peers, '@grpc', 'grpc-js'));
const loader = require(path.join(peers, '@grpc', 'proto-loader'));

// ---- arguments ---------------------------------------------------------------------------
function parseArgs(argv) {
    const a = {role: argv[0], server: null, port: 0, host: '127.0.0.1', cases: null,
               protoDir: path.join(__dirname, '..', '..', '..', 'tools', 'proto'), timeout: 10};
    for (let i = 1; i < argv.length; i += 2) {
        const v = argv[i + 1];
        switch (argv[i]) {
        case '--server': a.server = v; break;
        case '--port': a.port = Number(v); break;
        case '--host': a.host = v; break;
        case '--cases': a.cases = v.split(',').filter(Boolean); break;
        case '--proto-dir': a.protoDir = v; break;
        case '--timeout': a.timeout = Number(v); break;
        default: throw new Error('unknown option ' + argv[i]);
        }
    }
    if (a.role !== 'client' && a.role !== 'server') throw new Error('role must be client or server');
    if (a.role === 'client' && !a.server) throw new Error('client needs --server HOST:PORT');
    return a;
}

function loadServices(protoDir) {
    const def = loader.loadSync(['helloworld.proto', 'grpc/testing/test.proto'], {
        includeDirs: [protoDir], keepCase: true, longs: Number, enums: String,
        defaults: true, oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(def);
    return {Greeter: pkg.helloworld.Greeter, TestService: pkg.grpc.testing.TestService};
}

// ---- the server ----------------------------------------------------------------------------
// The x-grpc-test-echo-* metadata of the request: the initial value to send
// as a header, the trailing one as a trailer.
function echoed(call) {
    const initial = new grpc.Metadata();
    const trailing = new grpc.Metadata();
    for (const v of call.metadata.get('x-grpc-test-echo-initial')) initial.add('x-grpc-test-echo-initial', v);
    for (const v of call.metadata.get('x-grpc-test-echo-trailing-bin')) {
        trailing.add('x-grpc-test-echo-trailing-bin', v);
    }
    return {initial, trailing};
}

// The error a request's response_status asks for, or null.
function askedStatus(req, trailing) {
    const s = req.response_status;
    if (!s || !s.code) return null;
    return {code: s.code, details: s.message || '', metadata: trailing};
}

const sleep = (us) => new Promise((resolve) => setTimeout(resolve, Math.ceil(us / 1000)));

// Writes the responses one request asks for, each after its interval;
// false when the request asked for an error (then the call is ended).
async function writeResponses(call, req, trailing) {
    const err = askedStatus(req, trailing);
    if (err) {
        call.emit('error', err);
        return false;
    }
    for (const p of req.response_parameters) {
        if (p.interval_us > 0) await sleep(p.interval_us);
        if (call.cancelled) return false;
        call.write({payload: {body: Buffer.alloc(p.size)}});
    }
    return true;
}

function serverImpl() {
    return {
        greeter: {
            SayHello(call, done) {
                done(null, {message: 'Hello ' + call.request.name});
            },
            SayHelloStream(call) {
                for (let i = 0; i < 3; i++) call.write({message: 'Hello ' + call.request.name + ' ' + i});
                call.end();
            },
        },
        test: {
            EmptyCall(call, done) {
                const {initial, trailing} = echoed(call);
                call.sendMetadata(initial);
                done(null, {}, trailing);
            },
            UnaryCall(call, done) {
                const {initial, trailing} = echoed(call);
                call.sendMetadata(initial);
                const err = askedStatus(call.request, trailing);
                if (err) return done(err);
                if (call.request.response_size < 0) {
                    return done({code: grpc.status.INVALID_ARGUMENT, details: 'response_size is negative'});
                }
                done(null, {payload: {body: Buffer.alloc(call.request.response_size)}}, trailing);
            },
            StreamingOutputCall(call) {
                const {initial, trailing} = echoed(call);
                call.sendMetadata(initial);
                writeResponses(call, call.request, trailing).then((ok) => { if (ok) call.end(trailing); });
            },
            StreamingInputCall(call, done) {
                let total = 0;
                call.on('data', (req) => { total += req.payload ? req.payload.body.length : 0; });
                call.on('end', () => done(null, {aggregated_payload_size: total}));
                call.on('error', () => {});
            },
            FullDuplexCall(call) {
                const {initial, trailing} = echoed(call);
                call.sendMetadata(initial);
                // each request is answered in order, after the previous one's intervals
                let chain = Promise.resolve(true);
                call.on('data', (req) => {
                    chain = chain.then((ok) => ok && writeResponses(call, req, trailing));
                });
                call.on('end', () => chain.then((ok) => { if (ok) call.end(trailing); }));
                call.on('error', () => {});
            },
        },
    };
}

function serve(a, svc) {
    const server = new grpc.Server();
    const impl = serverImpl();
    server.addService(svc.Greeter.service, impl.greeter);
    server.addService(svc.TestService.service, impl.test);
    const host = a.host.includes(':') ? '[' + a.host + ']' : a.host;
    server.bindAsync(host + ':' + a.port, grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) {
            console.error('node_peer: bind ' + host + ':' + a.port + ': ' + err.message);
            process.exit(1);
        }
        console.log('LISTENING ' + port);
    });
    const stop = () => server.tryShutdown(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}

// ---- the client --------------------------------------------------------------------------
function check(cond, what) {
    if (!cond) throw new Error(what);
}

const zeros = (n) => ({body: Buffer.alloc(n)});
const REQ_SIZES = [27182, 8, 1828, 45904];
const RESP_SIZES = [31415, 9, 2653, 58979];
const CHUNK = 512 * 1024;

// A call's outcome as a promise: unary and client-streaming calls.
function unary(client, method, req, opts = {}) {
    return new Promise((resolve) => {
        // done when both the callback and the status (the trailers) came, in either order
        const r = {err: null, resp: null, headers: null, trailers: null};
        let left = 2;
        const one = () => { if (--left === 0) resolve(r); };
        const cb = (err, resp) => { r.err = err; r.resp = resp; one(); };
        const md = opts.metadata || new grpc.Metadata();
        const callOpts = {deadline: Date.now() + opts.timeout * 1000};
        const call = req === undefined ? client[method](md, callOpts, cb)
            : client[method](req, md, callOpts, cb);
        call.on('metadata', (m) => { r.headers = m; });
        call.on('status', (s) => { r.trailers = s.metadata; one(); });
        if (opts.writes) {
            for (const w of opts.writes) call.write(w);
            call.end();
        }
    });
}

// A server-streaming call: all its messages, its status.
function collect(call) {
    return new Promise((resolve) => {
        const msgs = [];
        let err = null;
        let headers = null;
        call.on('metadata', (m) => { headers = m; });
        call.on('data', (m) => msgs.push(m));
        call.on('error', (e) => { err = e; });
        call.on('status', (s) => resolve({msgs, err, headers, status: s}));
    });
}

// A bidi call driven one message at a time: send() resolves with the next response.
function pingPong(call) {
    const waiting = [];
    const got = [];
    let done = null;
    call.on('data', (m) => (waiting.length ? waiting.shift().resolve(m) : got.push(m)));
    const ended = new Promise((resolve) => call.on('status', resolve));
    call.on('error', (e) => { done = e; while (waiting.length) waiting.shift().reject(e); });
    return {
        next() {
            if (got.length) return Promise.resolve(got.shift());
            if (done) return Promise.reject(done);
            return new Promise((resolve, reject) => waiting.push({resolve, reject}));
        },
        ended,
    };
}

function echoMetadata() {
    const md = new grpc.Metadata();
    md.set('x-grpc-test-echo-initial', 'test_initial_metadata_value');
    md.set('x-grpc-test-echo-trailing-bin', Buffer.from([0xab, 0xab, 0xab]));
    return md;
}

function checkEchoed(headers, trailers) {
    const ini = headers ? headers.get('x-grpc-test-echo-initial') : [];
    check(ini.length === 1 && ini[0] === 'test_initial_metadata_value',
          'initial metadata echo: ' + JSON.stringify(ini));
    const tr = trailers ? trailers.get('x-grpc-test-echo-trailing-bin') : [];
    check(tr.length === 1 && Buffer.isBuffer(tr[0]) && tr[0].equals(Buffer.from([0xab, 0xab, 0xab])),
          'trailing metadata echo: ' + JSON.stringify(tr));
}

function expectStatus(err, code, message) {
    check(err, 'no error, expected status ' + code);
    check(err.code === code, 'status ' + err.code + ' (' + err.details + '), expected ' + code);
    if (message !== undefined) {
        check(err.details === message, 'message ' + JSON.stringify(err.details) + ', expected ' +
              JSON.stringify(message));
    }
}

function cases(a, svc) {
    const opts = {'grpc.max_receive_message_length': 8 << 20};
    const greeter = new svc.Greeter(a.server, grpc.credentials.createInsecure(), opts);
    const test = new svc.TestService(a.server, grpc.credentials.createInsecure(), opts);
    const t = a.timeout;
    const deadline = () => ({deadline: Date.now() + t * 1000});
    return {
        async say_hello() {
            const r = await unary(greeter, 'SayHello', {name: 'world'}, {timeout: t});
            check(!r.err, 'error ' + (r.err && r.err.message));
            check(r.resp.message === 'Hello world', 'message ' + JSON.stringify(r.resp.message));
        },
        async say_hello_stream() {
            const r = await collect(greeter.SayHelloStream({name: 'stream'}, deadline()));
            check(!r.err, 'error ' + (r.err && r.err.message));
            const got = r.msgs.map((m) => m.message);
            const want = ['Hello stream 0', 'Hello stream 1', 'Hello stream 2'];
            check(JSON.stringify(got) === JSON.stringify(want), 'replies ' + JSON.stringify(got));
        },
        async empty_unary() {
            const r = await unary(test, 'EmptyCall', {}, {timeout: t});
            check(!r.err, 'error ' + (r.err && r.err.message));
        },
        async large_unary() {
            const r = await unary(test, 'UnaryCall', {response_size: 314159, payload: zeros(271828)},
                                  {timeout: t});
            check(!r.err, 'error ' + (r.err && r.err.message));
            const body = r.resp.payload && r.resp.payload.body;
            check(body && body.length === 314159 && body.every((b) => b === 0),
                  'payload of ' + (body ? body.length : 'no') + ' bytes, expected 314159 zeros');
        },
        async gzip_large_unary() {
            const gz = new svc.TestService(a.server, grpc.credentials.createInsecure(),
                                           Object.assign({'grpc.default_compression_algorithm': 2}, opts));
            const r = await unary(gz, 'UnaryCall', {response_size: 314159, payload: zeros(271828)},
                                  {timeout: t});
            gz.close();
            check(!r.err, 'error ' + (r.err && r.err.message));
            const body = r.resp.payload && r.resp.payload.body;
            check(body && body.length === 314159, 'payload of ' + (body ? body.length : 'no') + ' bytes');
        },
        async server_streaming() {
            const req = {response_parameters: RESP_SIZES.map((size) => ({size}))};
            const r = await collect(test.StreamingOutputCall(req, deadline()));
            check(!r.err, 'error ' + (r.err && r.err.message));
            const got = r.msgs.map((m) => m.payload.body.length);
            check(JSON.stringify(got) === JSON.stringify(RESP_SIZES), 'sizes ' + JSON.stringify(got));
        },
        async client_streaming() {
            const r = await unary(test, 'StreamingInputCall', undefined, {
                timeout: t, writes: REQ_SIZES.map((n) => ({payload: zeros(n)})),
            });
            check(!r.err, 'error ' + (r.err && r.err.message));
            check(r.resp.aggregated_payload_size === 74922,
                  'aggregated_payload_size ' + r.resp.aggregated_payload_size);
        },
        async ping_pong() {
            const call = test.FullDuplexCall(deadline());
            const pp = pingPong(call);
            for (let i = 0; i < 4; i++) {
                call.write({response_parameters: [{size: RESP_SIZES[i]}], payload: zeros(REQ_SIZES[i])});
                const m = await pp.next();
                check(m.payload.body.length === RESP_SIZES[i],
                      'round ' + i + ': ' + m.payload.body.length + ' bytes, expected ' + RESP_SIZES[i]);
            }
            call.end();
            const s = await pp.ended;
            check(s.code === grpc.status.OK, 'status ' + s.code + ' ' + s.details);
        },
        async empty_stream() {
            const call = test.FullDuplexCall(deadline());
            const p = collect(call);
            call.end();
            const r = await p;
            check(!r.err && r.status.code === 0, 'status ' + r.status.code + ' ' + r.status.details);
            check(r.msgs.length === 0, r.msgs.length + ' responses');
        },
        async status_code_and_message() {
            const status = {code: 2, message: 'test status message'};
            const r = await unary(test, 'UnaryCall', {response_status: status}, {timeout: t});
            expectStatus(r.err, 2, 'test status message');
            const call = test.FullDuplexCall(deadline());
            const p = collect(call);
            call.write({response_status: status});
            call.end();
            const d = await p;
            expectStatus(d.err, 2, 'test status message');
        },
        async custom_metadata() {
            const r = await unary(test, 'UnaryCall', {response_size: 314159, payload: zeros(271828)},
                                  {timeout: t, metadata: echoMetadata()});
            check(!r.err, 'unary: error ' + (r.err && r.err.message));
            checkEchoed(r.headers, r.trailers);
            const call = test.FullDuplexCall(echoMetadata(), deadline());
            const p = collect(call);
            call.write({response_parameters: [{size: 314159}], payload: zeros(271828)});
            call.end();
            const d = await p;
            check(!d.err, 'full duplex: error ' + (d.err && d.err.message));
            check(d.msgs.length === 1 && d.msgs[0].payload.body.length === 314159,
                  'full duplex: ' + d.msgs.length + ' responses');
            checkEchoed(d.headers, d.status.metadata);
        },
        async concurrent_calls() {
            // 10 unary and 10 server-streaming calls at once on one connection
            const calls = [];
            for (let i = 0; i < 10; i++) {
                calls.push(unary(test, 'UnaryCall', {response_size: 65536, payload: zeros(65536)},
                                 {timeout: t}).then((r) => {
                    check(!r.err, 'unary ' + i + ': error ' + (r.err && r.err.message));
                    check(r.resp.payload.body.length === 65536,
                          'unary ' + i + ': ' + r.resp.payload.body.length + ' bytes');
                }));
                const req = {response_parameters: RESP_SIZES.map((size) => ({size}))};
                calls.push(collect(test.StreamingOutputCall(req, deadline())).then((r) => {
                    check(!r.err, 'stream ' + i + ': error ' + (r.err && r.err.message));
                    const got = r.msgs.map((m) => m.payload.body.length);
                    check(JSON.stringify(got) === JSON.stringify(RESP_SIZES),
                          'stream ' + i + ': sizes ' + JSON.stringify(got));
                }));
            }
            await Promise.all(calls);
        },
        async large_streams() {
            // 4 MiB each way in 512 KiB messages: past the HTTP/2 windows
            const writes = Array.from({length: 8}, () => ({payload: zeros(CHUNK)}));
            const r = await unary(test, 'StreamingInputCall', undefined, {timeout: t, writes});
            check(!r.err, 'client stream: error ' + (r.err && r.err.message));
            check(r.resp.aggregated_payload_size === 8 * CHUNK,
                  'client stream: aggregated_payload_size ' + r.resp.aggregated_payload_size);
            const req = {response_parameters: Array.from({length: 8}, () => ({size: CHUNK}))};
            const s = await collect(test.StreamingOutputCall(req, deadline()));
            check(!s.err, 'server stream: error ' + (s.err && s.err.message));
            const got = s.msgs.map((m) => m.payload.body.length);
            check(got.length === 8 && got.every((n) => n === CHUNK),
                  'server stream: sizes ' + JSON.stringify(got));
        },
        async unimplemented_method() {
            const r = await unary(test, 'UnimplementedCall', {}, {timeout: t});
            expectStatus(r.err, grpc.status.UNIMPLEMENTED);
        },
        close() {
            greeter.close();
            test.close();
        },
    };
}

const CASES = ['say_hello', 'say_hello_stream', 'empty_unary', 'large_unary', 'gzip_large_unary',
               'server_streaming', 'client_streaming', 'ping_pong', 'empty_stream',
               'status_code_and_message', 'custom_metadata', 'concurrent_calls', 'large_streams',
               'unimplemented_method'];

async function runClient(a, svc) {
    const all = cases(a, svc);
    let failed = 0;
    for (const name of a.cases || CASES) {
        if (!all[name] || name === 'close') {
            console.log('FAIL ' + name + ': no such case');
            failed++;
            continue;
        }
        try {
            await all[name]();
            console.log('PASS ' + name);
        } catch (e) {
            console.log('FAIL ' + name + ': ' + String(e.message || e).replace(/\n/g, ' '));
            failed++;
        }
    }
    all.close();
    process.exit(failed ? 1 : 0);
}

function main() {
    let a;
    try {
        a = parseArgs(process.argv.slice(2));
    } catch (e) {
        console.error('node_peer: ' + e.message + '\nusage: node_peer.js client --server HOST:PORT ' +
                      '[--cases a,b] [--timeout S] | server [--port N] [--host ADDR]');
        process.exit(2);
    }
    const svc = loadServices(a.protoDir);
    if (a.role === 'server') serve(a, svc);
    else runClient(a, svc);
}

main();
