// Every strata command, one module each under commands/. Add new ones to this list.
import type { CommandModule } from 'yargs';
import { umountCommand } from './commands/umount.js';
import { importCommand } from './commands/import.js';
import { saveCommand } from './commands/save.js';
import { loadCommand } from './commands/load.js';
import { imagesCommand } from './commands/images.js';
import { historyCommand } from './commands/history.js';
import { inspectCommand } from './commands/inspect.js';
import { tagCommand } from './commands/tag.js';
import { rmiCommand } from './commands/rmi.js';
import { pruneCommand } from './commands/prune.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- yargs' own typing of heterogeneous commands
export const commands: CommandModule<any, any>[] = [
  umountCommand,
  importCommand,
  saveCommand,
  loadCommand,
  imagesCommand,
  historyCommand,
  inspectCommand,
  tagCommand,
  rmiCommand,
  pruneCommand,
];
