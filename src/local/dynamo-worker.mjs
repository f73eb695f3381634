// dynalite in its own thread: its request parsing and LevelDB work then use the second core, not the handlers'.
// Plain JavaScript on purpose: worker threads do not inherit the TypeScript loader in every way Node is started.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import dynalite from 'dynalite';

// patches/dynalite+4.0.0.patch (applied by `npm install`) stops index entries of big rooms from hiding each other.
// Without it, room queries silently miss members, so refuse to start instead.
const { createIndexKey } = createRequire(import.meta.url)('dynalite/db/index.js');
if (!String(createIndexKey).includes('roomcast patch')) {
  parentPort.postMessage({
    error: 'dynalite is not patched (patches/dynalite+4.0.0.patch); run `npm install` or `npx patch-package`',
  });
  process.exit(1);
}

const { path } = workerData;
const server = dynalite({ ...(path && { path }), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
// The handlers' DynamoDB clients keep sockets alive with no idle limit, as the SDK does on AWS. Node's server closes
// a socket idle for 5 s; a request written at that moment meets a closed socket ("socket hang up"), and while the
// event loop stalls under load that happened to hundreds of requests. Idle sockets are kept much longer here, so
// the race is rare; the SDK retries a reset request as it does against AWS (test/security/hostile-load.test.ts).
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.once('error', (error) => parentPort.postMessage({ error: error.message }));
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  server.close(() => parentPort.postMessage({ closed: true }));
  // Clients keep sockets alive; without this, close() would wait for them to time out.
  server.closeAllConnections();
});
