import * as fs from 'node:fs';
import * as http from 'node:http';
import demoApp from '../../src/demo-app';

/** The baseline: one plain Node http server with the same app, on a unix socket. */
const sock = process.argv[2];
if (!sock) {
  process.stderr.write('usage: plain-server SOCKET\n');
  process.exit(64);
}
fs.rmSync(sock, { force: true });
http.createServer(demoApp).listen(sock, () => {
  fs.chmodSync(sock, 0o666);
  process.stdout.write('ready\n');
});
process.on('SIGTERM', () => process.exit(0));
