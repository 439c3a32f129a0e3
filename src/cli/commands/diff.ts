import type { CommandModule } from 'yargs';

interface Args {
  root?: string;
  container: string;
}

export const diffCommand: CommandModule<object, Args> = {
  command: 'diff <container>',
  describe: "what a container changed in its image: A added, C changed, D deleted",
  builder: (y) => y.positional('container', { type: 'string', demandOption: true, describe: 'name or id' }),
  handler: async (a) => {
    const { containerChanges } = await import('../../run/diff.js');
    const { storeRoot } = await import('../../image/root.js');
    for (const ch of containerChanges(storeRoot(a.root), a.container)) process.stdout.write(`${ch.kind} ${ch.path}\n`);
  },
};
