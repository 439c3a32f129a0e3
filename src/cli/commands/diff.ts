import type { CommandModule } from 'yargs';
import { containerChanges } from '../../run/diff.js';
import { storeRoot } from '../../run/root.js';

interface Args {
  root?: string;
  container: string;
}

export const diffCommand: CommandModule<object, Args> = {
  command: 'diff <container>',
  describe: "what a container changed in its image: A added, C changed, D deleted",
  builder: (y) => y.positional('container', { type: 'string', demandOption: true, describe: 'name or id' }),
  handler: (a) => {
    for (const ch of containerChanges(storeRoot(a.root), a.container)) process.stdout.write(`${ch.kind} ${ch.path}\n`);
  },
};
