// fuse-overlayfs's command line (`-o OPTS MOUNTPOINT`, or the fstab form `SOURCE
// MOUNTPOINT -o OPTS`), as strata-overlay (overlay.ts) takes it and as strata-init hands
// it to the mount daemon directly (daemon.ts --overlay). Parsing only.
import { UserError } from './errors.js';
import type { MountRequest } from './mount-start.js';

export const OVERLAY_USAGE = 'usage: strata-overlay [-f] [-d] -o lowerdir=L1:L2,upperdir=U,workdir=W [SOURCE] MOUNTPOINT';

export type OverlayArgs =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'mount'; req: MountRequest; /** flags fuse-overlayfs has and we do not */ ignored: string[] };

export function parseOverlayArgs(argv: string[]): OverlayArgs {
  const options: string[] = [];
  const positional: string[] = [];
  const ignored: string[] = [];
  let foreground = false;
  let debug = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-o') {
      const v = argv[++i];
      if (v === undefined) throw new UserError('-o needs options');
      options.push(v);
    } else if (a.startsWith('-o')) options.push(a.slice(2));
    else if (a === '-f') foreground = true;
    else if (a === '-d' || a === '--debug') debug = true;
    else if (a === '-h' || a === '--help') return { kind: 'help' };
    else if (a === '--version' || a === '-V') return { kind: 'version' };
    else if (a.startsWith('-')) ignored.push(a);
    else positional.push(a);
  }
  if (positional.length < 1 || positional.length > 2) throw new UserError(OVERLAY_USAGE, 2);
  const mountpoint = positional[positional.length - 1]!;
  const source = positional.length === 2 ? positional[0] : undefined;
  return { kind: 'mount', req: { options, mountpoint, foreground, debug, prog: 'strata-overlay', ...(source ? { source } : {}) }, ignored };
}
