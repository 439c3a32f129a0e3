#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS STRATA_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// strata-overlay: fuse-overlayfs's command line, for containers/storage's mount_program
// (`-o OPTS MOUNTPOINT`) and for `mount -t fuse.strata-overlay` / fstab
// (`SOURCE MOUNTPOINT -o OPTS`). Same semantics as `strata mount`.
// the shebang as main.ts's: a mount program opens no TLS, node need not load the CA file
import { restoreExtraCaVar } from '../registry/extra-ca.js';
import { startMount } from './mount-start.js';
import { UserError } from './errors.js';

restoreExtraCaVar();

const USAGE = 'usage: strata-overlay [-f] [-d] -o lowerdir=L1:L2,upperdir=U,workdir=W [SOURCE] MOUNTPOINT';

async function main(argv: string[]): Promise<void> {
  const options: string[] = [];
  const positional: string[] = [];
  const ignored: string[] = [];
  let foreground = false;
  let debug = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-o') {
      const v = argv[++i];
      if (v === undefined) throw new UserError('-o needs options');
      options.push(v);
    } else if (a.startsWith('-o')) options.push(a.slice(2));
    else if (a === '-f') foreground = true;
    else if (a === '-d' || a === '--debug') debug = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE + '\n');
      return;
    } else if (a === '--version' || a === '-V') {
      process.stdout.write('strata-overlay 0.1.0\n');
      return;
    } else if (a.startsWith('-')) ignored.push(a);
    else positional.push(a);
  }
  if (ignored.length > 0) process.stderr.write(`strata-overlay: ignoring unknown flags: ${ignored.join(' ')}\n`);
  if (positional.length < 1 || positional.length > 2) throw new UserError(USAGE, 2);
  const mountpoint = positional[positional.length - 1]!;
  const source = positional.length === 2 ? positional[0] : undefined;
  await startMount({ options, mountpoint, foreground, debug, prog: 'strata-overlay', ...(source ? { source } : {}) });
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`strata-overlay: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
  process.exit(e instanceof UserError ? e.exitCode : 1);
});
