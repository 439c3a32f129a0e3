import type { CommandModule } from 'yargs';

interface Args {
  root?: string;
  container: string;
  follow: boolean;
}

export const logsCommand: CommandModule<object, Args> = {
  command: 'logs <container>',
  describe: 'print the output of a detached container',
  builder: (y) =>
    y
      .positional('container', { type: 'string', demandOption: true, describe: 'name or id' })
      .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'keep printing until the container exits' }),
  handler: async (a) => {
    const { containerLogs } = await import('../../run/logs.js');
    const { storeRoot } = await import('../../image/root.js');
    await containerLogs(storeRoot(a.root), a.container, process.stdout, a.follow);
  },
};
