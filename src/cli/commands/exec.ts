import type { CommandModule } from 'yargs';
import { commandTail, list } from './run.js';

interface Args {
  root?: string;
  container: string;
  command?: string[];
  interactive: boolean;
  tty: boolean;
  env?: string | string[];
  workdir?: string;
}

export const execCommand: CommandModule<object, Args> = {
  command: 'exec <container> [command..]',
  describe: 'run a command in a running container',
  builder: (y) =>
    y
      .positional('container', { type: 'string', demandOption: true, describe: 'name or id' })
      .positional('command', { type: 'string', array: true, describe: 'command and arguments' })
      .option('interactive', { alias: 'i', type: 'boolean', default: false, describe: 'keep stdin attached' })
      .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'use the terminal strata runs in' })
      .option('env', { alias: 'e', type: 'string', describe: 'set K=V; repeatable' })
      .option('workdir', { alias: 'w', type: 'string', describe: "working directory (default: the container's)" }),
  handler: async (a) => {
    const { execInContainer } = await import('../../run/exec.js');
    const { storeRoot } = await import('../../image/root.js');
    process.exitCode = await execInContainer(storeRoot(a.root), a.container, commandTail(a), {
      interactive: a.interactive, tty: a.tty, env: list(a.env), workdir: a.workdir,
    });
  },
};
