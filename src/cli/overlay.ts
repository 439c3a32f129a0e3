#!/usr/bin/env node
// strata-overlay: the fuse-overlayfs command line (mount_program, fstab). Filled in by
// the union filesystem.
process.stderr.write('strata-overlay: not yet available\n');
process.exit(1);
