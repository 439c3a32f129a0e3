// A misbehaving network in front of a real registry: a node http proxy on 127.0.0.1 that
// logs every request and, when a rule says so, answers a status itself, flips a byte of
// the response body, drops the connection after some bytes, or slows the body down.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionContext } from 'ava';

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  status?: number;
}

export type Fault =
  | { status: number; body?: string; headers?: Record<string, string> }
  | { flipByteAt: number }
  | { resetAfter: number }
  | { bytesPerSecond: number }
  | { ignoreRange: true };

export interface Proxy {
  host: string;
  seen: Seen[];
  /** requests being answered now, and the most at once so far */
  inFlight: number;
  maxInFlight: number;
  /** rule consulted for every request; n counts earlier requests it matched (from 0) */
  fault: ((req: Seen, n: number) => Fault | undefined) | undefined;
}

export async function startProxy(t: ExecutionContext, target: string, listenOn = '127.0.0.1'): Promise<Proxy> {
  const [targetHost, targetPort] = target.split(':');
  const proxy: Proxy = { host: '', seen: [], fault: undefined, inFlight: 0, maxInFlight: 0 };
  let matched = 0;
  const server = http.createServer((req, res) => {
    const seen: Seen = { method: req.method!, url: req.url!, headers: req.headers };
    proxy.seen.push(seen);
    proxy.maxInFlight = Math.max(proxy.maxInFlight, ++proxy.inFlight);
    res.on('close', () => proxy.inFlight--);
    const fault = proxy.fault?.(seen, matched);
    if (fault) matched++;
    if (fault && 'status' in fault) {
      seen.status = fault.status;
      req.resume();
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      res.end(fault.body ?? '');
      return;
    }
    const headers = { ...req.headers };
    if (fault && 'ignoreRange' in fault) delete headers.range;
    const up = http.request({ host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers }, (ur) => {
      seen.status = ur.statusCode;
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      let sent = 0;
      ur.on('data', (chunk: Buffer) => {
        let c = chunk;
        if (fault && 'flipByteAt' in fault && fault.flipByteAt >= sent && fault.flipByteAt < sent + c.length) {
          c = Buffer.from(c);
          c[fault.flipByteAt - sent] ^= 0xff;
        }
        if (fault && 'resetAfter' in fault && sent + c.length > fault.resetAfter) {
          res.write(c.subarray(0, Math.max(0, fault.resetAfter - sent)));
          ur.destroy();
          setTimeout(() => res.socket?.destroy(), 20);
          return;
        }
        sent += c.length;
        if (fault && 'bytesPerSecond' in fault) {
          ur.pause();
          setTimeout(() => ur.resume(), (c.length / fault.bytesPerSecond) * 1000);
        }
        res.write(c);
      });
      ur.on('end', () => res.end());
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, listenOn, r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  proxy.host = `${listenOn}:${(server.address() as AddressInfo).port}`;
  return proxy;
}
