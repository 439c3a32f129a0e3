import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../app.js';

interface Args extends GlobalArgs {
  reference: string;
  'tls-verify': boolean;
  platform?: string;
  quiet: boolean;
}

export const pullCommand: CommandModule<GlobalArgs, Args> = {
  command: 'pull <reference>',
  describe: 'pull an image from a registry into the store (verifying every digest; an interrupted pull resumes)',
  builder: (y) =>
    y
      .positional('reference', { type: 'string', demandOption: true, describe: 'NAME[:TAG|@DIGEST], e.g. localhost:5000/app:1.0' })
      .option('tls-verify', { type: 'boolean', default: true, describe: 'require https with a valid certificate (false also allows plain http)' })
      .option('platform', { type: 'string', describe: 'OS/ARCH[/VARIANT] to choose from a multi-platform image (default: this machine)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print only the manifest digest' }),
  handler: async (a) => {
    const { openStore } = await import('../../image/store.js');
    const { pull } = await import('../../registry/pull.js');
    const { parsePlatform } = await import('../../registry/manifest.js');
    const { progressOn } = await import('../../registry/progress.js');
    const r = await pull(a.reference, openStore(a.root), {
      tlsVerify: a['tls-verify'],
      ...(a.platform ? { platform: parsePlatform(a.platform) } : {}),
      ...(a.quiet ? {} : { progress: progressOn(process.stderr) }),
    });
    if (!a.quiet) process.stderr.write(`Pulled ${r.name} (${r.layers} layers)\n`);
    process.stdout.write(`${r.manifest.digest}\n`);
  },
};
