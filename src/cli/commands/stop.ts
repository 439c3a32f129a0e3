import type { CommandModule } from 'yargs';

interface Args {
  root?: string;
  containers: string[];
  time: number;
}

export const stopCommand: CommandModule<object, Args> = {
  command: 'stop <containers..>',
  describe: 'stop containers: SIGTERM (or the image StopSignal), SIGKILL after --time seconds',
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, demandOption: true, describe: 'names or ids' })
      .option('time', { alias: 't', type: 'number', default: 10, describe: 'seconds to wait before SIGKILL' }),
  handler: async (a) => {
    const { stopContainer } = await import('../../run/lifecycle.js');
    const { storeRoot } = await import('../../image/root.js');
    for (const ref of a.containers) {
      await stopContainer(storeRoot(a.root), ref, a.time);
      process.stdout.write(`${ref}\n`);
    }
  },
};
