import type { CommandModule } from 'yargs';

interface Args {
  root?: string;
  refs: string[];
}

// As `docker inspect`: containers first, then images (through the image store).
export const inspectCommand: CommandModule<object, Args> = {
  command: 'inspect <refs..>',
  describe: 'containers (config, state, status) or images, as a JSON array',
  builder: (y) => y.positional('refs', { type: 'string', array: true, demandOption: true, describe: 'container name or id, or image' }),
  handler: async (a) => {
    const { storeRoot } = await import('../../image/root.js');
    const { inspectAny } = await import('../../run/run.js');
    const root = storeRoot(a.root);
    const out: unknown[] = [];
    for (const ref of a.refs) out.push(await inspectAny(root, ref));
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  },
};
