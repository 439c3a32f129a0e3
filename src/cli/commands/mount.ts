import type { CommandModule } from 'yargs';

interface Args {
  mountpoint: string;
  o: string | string[] | undefined;
  f: boolean;
  d: boolean;
  'print-pid': boolean;
}

export const mountCommand: CommandModule<object, Args> = {
  command: 'mount <mountpoint>',
  describe: 'mount a union: -o lowerdir=L1:L2,upperdir=U,workdir=W (leftmost lower is the top; no upperdir: read-only)',
  builder: (y) =>
    y
      .positional('mountpoint', { type: 'string', demandOption: true, describe: 'where to mount' })
      .option('o', { type: 'string', requiresArg: true, describe: 'mount options, as for mount -t overlay and fuse-overlayfs (may repeat)' })
      .option('f', { alias: 'foreground', type: 'boolean', default: false, describe: 'serve in the foreground' })
      .option('d', { alias: 'debug', type: 'boolean', default: false, describe: 'log every request to stderr (implies -f)' })
      .option('print-pid', { type: 'boolean', default: false, describe: "print the daemon's pid once mounted" }),
  handler: async (a) => {
    // loaded only when a mount is made, not for --help
    const { startMount } = await import('../mount-start.js');
    const pid = await startMount({ options: [a.o ?? []].flat(), mountpoint: a.mountpoint, foreground: a.f, debug: a.d });
    if (a['print-pid'] && !a.f && !a.d) process.stdout.write(`${pid}\n`);
  },
};
