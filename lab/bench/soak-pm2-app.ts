import * as fs from 'node:fs';
import * as http from 'node:http';
import demoApp from '../../src/demo-app';

/**
 * The demo app as a pm2 user runs it: one plain `http.createServer(app).listen(...)` per
 * cluster instance, the cluster master (pm2's daemon) sharing the socket. npm run bench:soak
 * starts it with `pm2 start -i 2` behind the same nginx site shape as the lab's.
 */
const sock = process.env.SOAK_SOCK;
if (!sock) throw new Error('SOAK_SOCK: the unix socket to listen on');
const server = http.createServer((req, res) => {
  res.setHeader('x-phoenix-pid', String(process.pid));
  res.setHeader('x-phoenix-generation', process.env.SOAK_GENERATION ?? '0');
  demoApp(req, res);
});
server.listen(sock, () => {
  // nginx's workers run as www-data.
  fs.chmodSync(sock, 0o666);
  process.send?.('ready');
});
process.on('SIGINT', () => server.close(() => process.exit(0)));
