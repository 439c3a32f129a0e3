import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../app.js';

interface Args extends GlobalArgs {
  image: string;
  destination?: string;
  'tls-verify': boolean;
  quiet: boolean;
}

export const pushCommand: CommandModule<GlobalArgs, Args> = {
  command: 'push <image> [destination]',
  describe: 'push an image from the store to a registry',
  builder: (y) =>
    y
      .positional('image', { type: 'string', demandOption: true, describe: 'the local image, NAME[:TAG]' })
      .positional('destination', { type: 'string', describe: 'where to push it, REGISTRY/NAME[:TAG] (default: IMAGE itself)' })
      .option('tls-verify', { type: 'boolean', default: true, describe: 'require https with a valid certificate (false also allows plain http)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print only the manifest digest' }),
  handler: async (a) => {
    const { openStore } = await import('../../image/store.js');
    const { push } = await import('../../registry/push.js');
    const { progressOn } = await import('../../registry/progress.js');
    const r = await push(a.image, a.destination, openStore(a.root), {
      tlsVerify: a['tls-verify'],
      ...(a.quiet ? {} : { progress: progressOn(process.stderr) }),
    });
    if (!a.quiet) process.stderr.write(`Pushed ${r.destination} (${r.uploaded} uploaded, ${r.mounted} mounted, ${r.skipped} already there)\n`);
    process.stdout.write(`${r.digest}\n`);
  },
};
