#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS STRATA_EXTRA_CA_CERTS=${NODE_EXTRA_CA_CERTS} node
// strata-overlay: fuse-overlayfs's command line, for containers/storage's mount_program
// (`-o OPTS MOUNTPOINT`) and for `mount -t fuse.strata-overlay` / fstab
// (`SOURCE MOUNTPOINT -o OPTS`). Same semantics as `strata mount`.
// the shebang as main.ts's: a mount program opens no TLS, node need not load the CA file
import { restoreExtraCaVar } from '../registry/extra-ca.js';
import { startMount } from './mount-start.js';
import { UserError } from './errors.js';
import { OVERLAY_USAGE, parseOverlayArgs } from './overlay-args.js';

restoreExtraCaVar();

async function main(argv: string[]): Promise<void> {
  const a = parseOverlayArgs(argv);
  if (a.kind === 'help') return void process.stdout.write(OVERLAY_USAGE + '\n');
  if (a.kind === 'version') return void process.stdout.write('strata-overlay 0.1.0\n');
  if (a.ignored.length > 0) process.stderr.write(`strata-overlay: ignoring unknown flags: ${a.ignored.join(' ')}\n`);
  await startMount(a.req);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`strata-overlay: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
  process.exit(e instanceof UserError ? e.exitCode : 1);
});
