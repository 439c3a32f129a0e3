// Every strata command, one module each under commands/. Add new ones to this list.
import type { CommandModule } from 'yargs';
import { umountCommand } from './commands/umount.js';
import { pullCommand } from './commands/pull.js';
import { pushCommand } from './commands/push.js';
import { loginCommand, logoutCommand } from './commands/login.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- yargs' own typing of heterogeneous commands
export const commands: CommandModule<any, any>[] = [umountCommand, pullCommand, pushCommand, loginCommand, logoutCommand];
