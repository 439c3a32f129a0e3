import type { CommandModule } from 'yargs';

interface Args {
  root?: string;
  all: boolean;
  quiet: boolean;
}

export const psCommand: CommandModule<object, Args> = {
  command: 'ps',
  describe: 'list running containers (-a: all, with stale records shown as such)',
  builder: (y) =>
    y
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'also stopped and stale containers' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'only ids' }),
  handler: async (a) => {
    const { describeStatus, shortId } = await import('../../run/lifecycle.js');
    const { storeRoot } = await import('../../image/root.js');
    const { psList } = await import('../../run/run.js');
    const rows = psList(storeRoot(a.root), a.all);
    if (a.quiet) {
      for (const c of rows) process.stdout.write(`${shortId(c.config.id)}\n`);
      return;
    }
    const table = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAMES']];
    for (const c of rows) {
      const cmd = c.config.argv.join(' ');
      table.push([shortId(c.config.id), c.config.image.ref || '-', JSON.stringify(cmd.length > 30 ? cmd.slice(0, 29) + '…' : cmd), c.config.created, describeStatus(c), c.config.name]);
    }
    const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
    for (const r of table) process.stdout.write(r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]! + 2))).join('') + '\n');
  },
};
