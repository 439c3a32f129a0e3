// The union filesystems compared: the kernel's overlayfs (the limit), fuse-overlayfs and
// unionfs-fuse (the peers, Debian's packages) and Strata through its CLI contract
// (`strata mount -o lowerdir=…,upperdir=…,workdir=… MNT`, `strata umount MNT`). Every one
// with its default options.
import { mountBackground, type Mounted } from '../lib/mounted.js';
import { mustRun, run } from '../lib/proc.js';
import { strataBin } from '../lib/paths.js';
import { onPath } from '../lib/tools.js';
import type { Workspace } from '../lib/workspace.js';

export interface UnionDirs {
  lowers: string[];
  upper: string;
  work: string;
  mnt: string;
}

export interface UnionContender {
  name: string;
  short: string;
  fuse: boolean;
  /** run only when --only names it */
  optIn?: boolean;
  /** why it cannot run here, found by probe() */
  missing?: string;
  probe(ws: Workspace): Promise<string | undefined>;
  /** env: the mount command's environment (default the bench's own) */
  mount(ws: Workspace, d: UnionDirs, env?: NodeJS.ProcessEnv): Promise<Mounted>;
}

const overlayOpts = (d: UnionDirs): string => `lowerdir=${d.lowers.join(':')},upperdir=${d.upper},workdir=${d.work}`;

const installed = (cmd: string, pkg: string) => async (): Promise<string | undefined> =>
  onPath(cmd) ? undefined : `${cmd} not installed (Debian package ${pkg})`;

export const kernel: UnionContender = {
  name: 'kernel overlayfs',
  short: 'kernel',
  fuse: false,
  async probe(ws) {
    if (process.getuid?.() !== 0) return 'needs root';
    // a tiny trial mount: overlayfs may be missing or refused (a container, an odd /tmp)
    const d = { lowers: [ws.fresh('probe-lower')], upper: ws.fresh('probe-upper'), work: ws.fresh('probe-work'), mnt: ws.fresh('probe-mnt') };
    try {
      const m = await this.mount(ws, d);
      await m.unmount();
      return undefined;
    } catch (e) {
      return `mount -t overlay fails here: ${e instanceof Error ? e.message : String(e)}`;
    }
  },
  mount: (ws, d, env) => mountBackground(ws, { cmd: 'mount', args: ['-t', 'overlay', 'overlay', '-o', overlayOpts(d), d.mnt], mountpoint: d.mnt, fuse: false, env }),
};

export const fuseOverlayfs: UnionContender = {
  name: 'fuse-overlayfs',
  short: 'fuse-overlayfs',
  fuse: true,
  probe: installed('fuse-overlayfs', 'fuse-overlayfs'),
  mount: (ws, d, env) => mountBackground(ws, { cmd: 'fuse-overlayfs', args: ['-o', overlayOpts(d), d.mnt], mountpoint: d.mnt, fuse: true, env }),
};

export const unionfsFuse: UnionContender = {
  name: 'unionfs-fuse',
  short: 'unionfs-fuse',
  fuse: true,
  probe: installed('unionfs', 'unionfs-fuse'),
  // cow: writes to a lower file copy it up, as in an overlay; hide_meta_files keeps its
  // whiteout directory out of listings
  mount: (ws, d, env) =>
    mountBackground(ws, {
      env,
      cmd: 'unionfs',
      args: ['-o', 'cow,hide_meta_files', [`${d.upper}=RW`, ...d.lowers.map((l) => `${l}=RO`)].join(':'), d.mnt],
      mountpoint: d.mnt,
      fuse: true,
    }),
};

/** Strata through the CLI at bin (this build's, or another one's for an A/B run), with
 * extra -o options. */
function strataAt(bin: string, name: string, short: string, extra: string[] = []): UnionContender {
  return {
    name,
    short,
    fuse: true,
    async probe() {
      // yargs answers --help for an unknown command with the global help: look for the command
      const r = await run(bin, ['--help']);
      return r.code === 0 && /^\s*strata mount\b/m.test(r.stdout)
        ? undefined
        : `${bin} has no 'mount' command yet (the union engine has not landed on this build; STRATA_BIN selects another)`;
    },
    // `strata mount` as a user runs it, in the user's environment: what that costs (node
    // reads NODE_EXTRA_CA_CERTS at every start, for one) is part of what the user waits for;
    // the bin executed, so its shebang line applies as in a shell
    mount: (ws, d, env) =>
      mountBackground(ws, {
        env,
        cmd: bin,
        args: ['mount', '-o', [overlayOpts(d), ...extra].join(','), d.mnt],
        mountpoint: d.mnt,
        fuse: true,
        unmount: async (mnt) => void (await mustRun(bin, ['umount', mnt])),
      }),
  };
}

export const strata = strataAt(strataBin, 'strata', 'strata');
/** the same build with kernel passthrough off: every read and write through the daemon
 * (as before passthrough), for A/B figures in one run; not run unless --only names it */
export const strataNoPassthrough: UnionContender = { ...strataAt(strataBin, 'strata passthrough=off', 'strata-nopt', ['passthrough=off']), optIn: true };

/** the same build answering READDIRPLUS for every readdir (readdirplus=always), for the
 * figures of that trade-off (listing speed against stats after the listing) */
export const strataPlusAlways: UnionContender = { ...strataAt(strataBin, 'strata readdirplus=always', 'strata-rdp-always', ['readdirplus=always']), optIn: true };

/** STRATA_BASE_BIN: a second strata build (e.g. main's) measured in the same run, for A/B. */
const base = process.env.STRATA_BASE_BIN;

export const unionContenders: UnionContender[] = [kernel, fuseOverlayfs, unionfsFuse, strata, strataNoPassthrough, strataPlusAlways, ...(base ? [strataAt(base, 'strata (base)', 'strata-base')] : [])];
