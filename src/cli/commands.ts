// Every strata command, one module each under commands/. Add new ones to this list.
import type { CommandModule } from 'yargs';
import { umountCommand } from './commands/umount.js';
import { mountCommand } from './commands/mount.js';
import { explainCommand } from './commands/explain.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- yargs' own typing of heterogeneous commands
export const commands: CommandModule<any, any>[] = [umountCommand, mountCommand, explainCommand];
