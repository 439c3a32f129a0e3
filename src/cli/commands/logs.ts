import type { CommandModule } from 'yargs';
import { containerLogs } from '../../run/logs.js';
import { storeRoot } from '../../run/root.js';

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
    await containerLogs(storeRoot(a.root), a.container, process.stdout, a.follow);
  },
};
