import fs from 'node:fs';
import type { CommandModule } from 'yargs';
import { unmount } from '../../fuse/unmount.js';
import { mountAt } from '../../fuse/mounts.js';
import { UserError } from '../errors.js';

interface Args {
  mountpoint: string;
  lazy: boolean;
}

/** A mount whose daemon was killed answers ENOTCONN to everything. */
function isDead(mountpoint: string): boolean {
  try {
    fs.statfsSync(mountpoint);
    return false;
  } catch (e) {
    return (e as { code?: string }).code === 'ENOTCONN';
  }
}

export const umountCommand: CommandModule<object, Args> = {
  command: 'umount <mountpoint>',
  aliases: ['unmount'],
  describe: 'unmount a Strata (or any FUSE) mount, also a dead one whose daemon was killed',
  builder: (y) =>
    y
      .positional('mountpoint', { type: 'string', demandOption: true, describe: 'where it is mounted' })
      .option('lazy', { alias: 'l', type: 'boolean', default: false, describe: 'detach now even if busy' }),
  handler: (a) => {
    const m = mountAt(a.mountpoint);
    if (!m) throw new UserError(`${a.mountpoint}: not mounted`);
    if (!m.fstype.startsWith('fuse')) throw new UserError(`${a.mountpoint}: not a FUSE mount (${m.fstype})`);
    try {
      unmount(a.mountpoint, { lazy: a.lazy || isDead(a.mountpoint) });
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'EBUSY') throw new UserError(`${a.mountpoint}: busy (files open in it); --lazy detaches it anyway`);
      throw e;
    }
  },
};
