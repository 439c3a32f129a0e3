import type { CommandModule } from 'yargs';

interface Args {
  root?: string;
  containers: string[];
  signal: string;
}

export const killCommand: CommandModule<object, Args> = {
  command: 'kill <containers..>',
  describe: "send a signal to containers' pid 1",
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, demandOption: true, describe: 'names or ids' })
      .option('signal', { alias: 's', type: 'string', default: 'KILL', describe: 'signal name or number' }),
  handler: async (a) => {
    const { killContainer } = await import('../../run/lifecycle.js');
    const { storeRoot } = await import('../../image/root.js');
    for (const ref of a.containers) {
      killContainer(storeRoot(a.root), ref, a.signal);
      process.stdout.write(`${ref}\n`);
    }
  },
};
