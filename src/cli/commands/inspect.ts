import type { CommandModule } from 'yargs';
import { storeRoot } from '../../run/root.js';
import { inspectContainer } from '../../run/run.js';

interface Args {
  root?: string;
  container: string;
}

export const inspectCommand: CommandModule<object, Args> = {
  command: 'inspect <container>',
  describe: "a container's config, state and status as JSON",
  builder: (y) => y.positional('container', { type: 'string', demandOption: true, describe: 'name or id' }),
  handler: (a) => {
    process.stdout.write(JSON.stringify(inspectContainer(storeRoot(a.root), a.container), null, 2) + '\n');
  },
};
