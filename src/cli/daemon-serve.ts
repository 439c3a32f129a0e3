// Serving one union mount until it is unmounted: the mount daemon's work (daemon.ts), and
// `strata mount -f`'s in the CLI's own process (mount-start.ts).
import { mountUnion } from '../fuse/serve.js';
import type { DaemonConfig } from './mount-start.js';

/** Mounts and serves until unmounted; resolves once ready with a promise of the end. */
export async function serve(cfg: DaemonConfig, onReady: () => void): Promise<void> {
  const { parsed } = cfg;
  const { session, passthroughWhy } = mountUnion(parsed, {
    source: cfg.source,
    ...(cfg.debug ? { debug: (line: string) => process.stderr.write(line + '\n') } : {}),
  });
  const stop = (): void => void session.unmount({ lazy: true }).catch(() => undefined);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const init = await session.ready;
  if (cfg.debug) {
    const why = passthroughWhy(init);
    process.stderr.write(`strata: passthrough ${init.passthrough ? 'on' : 'off'} (${why}), writeback ${init.writeback ? 'on' : 'off'}\n`);
  }
  onReady();
  await session.closed;
}
