import fs from 'node:fs';
import type { CommandModule } from 'yargs';
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
  handler: async (a) => {
    const { unmount } = await import('../../fuse/unmount.js');
    const { mountAt } = await import('../../fuse/mounts.js');
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
