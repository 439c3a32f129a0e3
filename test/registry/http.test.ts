// The transport: a kept-alive socket that the server resets as it is reused is not an error
// the caller sees; the request goes again on a fresh connection, body and all.
import test from 'ava';
import net from 'node:net';
import { readAll, send } from '../../src/registry/http.js';

test('a request on a reused socket that the server resets is sent again on a fresh connection', async (t) => {
  const bodies: string[] = [];
  // answers the first request of each connection; the second one on a connection is reset
  const server = net.createServer((sock) => {
    let requests = 0;
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(buf)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      if (++requests > 1) return void sock.resetAndDestroy();
      bodies.push(buf.slice(end + 4, end + 4 + length));
      buf = '';
      sock.write('HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => void server.close());
  const url = new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/v2/x/blobs/uploads/1`);
  const transport = { verifyTls: true, idleTimeoutMs: 10_000 };
  const first = await send({ method: 'PATCH', url, body: Buffer.from('one') }, transport);
  t.is((await readAll(first)).toString(), 'ok');
  const second = await send({ method: 'PATCH', url, body: Buffer.from('two') }, transport);
  t.is(second.status, 202);
  t.is((await readAll(second)).toString(), 'ok');
  t.deepEqual(bodies, ['one', 'two'], 'the reset request arrived whole on its second connection');
});
