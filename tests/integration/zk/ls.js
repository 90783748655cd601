// Lists a ZooKeeper path's children with a third-party client
// (node-zookeeper-client, the one dubbo2.js uses), one line per child:
//   <child name> <ephemeralOwner as 16 hex digits, 0 for persistent>
// Usage: node ls.js HOST:PORT PATH   (NODE_PATH must reach node_modules)
'use strict';
const zookeeper = require('node-zookeeper-client');

const [addr, path] = process.argv.slice(2);
if (!addr || !path) {
  console.error('usage: node ls.js HOST:PORT PATH');
  process.exit(2);
}
const client = zookeeper.createClient(addr, {sessionTimeout: 4000, retries: 0});
const timer = setTimeout(() => {
  console.error('ls.js: no answer from ' + addr);
  process.exit(1);
}, 5000);

function fail(err) {
  console.error('ls.js: ' + err);
  process.exit(1);
}

client.once('connected', () => {
  client.getChildren(path, (err, children) => {
    if (err) return fail(err);
    children.sort();
    let left = children.length;
    const lines = new Array(children.length);
    const done = () => {
      clearTimeout(timer);
      if (lines.length) process.stdout.write(lines.join('\n') + '\n');
      client.close();
    };
    if (!left) return done();
    children.forEach((name, i) => {
      client.exists(path + '/' + name, (e, stat) => {
        if (e) return fail(e);
        lines[i] = name + ' ' + (stat ? stat.ephemeralOwner.toString('hex') : 'gone');
        if (--left === 0) done();
      });
    });
  });
});
client.connect();
