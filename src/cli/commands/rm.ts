import type { CommandModule } from 'yargs';

interface Args {
  root?: string;
  containers: string[];
  force: boolean;
}

export const rmCommand: CommandModule<object, Args> = {
  command: 'rm <containers..>',
  describe: 'remove containers (-f: also running or stale ones)',
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, demandOption: true, describe: 'names or ids' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'kill a running container first; clear a stale record' }),
  handler: async (a) => {
    const { removeContainer } = await import('../../run/lifecycle.js');
    const { storeRoot } = await import('../../image/root.js');
    for (const ref of a.containers) {
      await removeContainer(storeRoot(a.root), ref, a.force);
      process.stdout.write(`${ref}\n`);
    }
  },
};
