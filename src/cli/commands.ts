// Every strata command, one module each under commands/, grouped by the part of Strata
// they drive. Add new ones to this list, one line each.
import type { CommandModule } from 'yargs';
// union mounts
import { mountCommand } from './commands/mount.js';
import { umountCommand } from './commands/umount.js';
import { explainCommand } from './commands/explain.js';
// images
import { importCommand } from './commands/import.js';
import { saveCommand } from './commands/save.js';
import { loadCommand } from './commands/load.js';
import { imagesCommand } from './commands/images.js';
import { historyCommand } from './commands/history.js';
import { tagCommand } from './commands/tag.js';
import { rmiCommand } from './commands/rmi.js';
import { pruneCommand } from './commands/prune.js';
// containers (inspect shows containers and images, as docker's does)
import { runCommand } from './commands/run.js';
import { execCommand } from './commands/exec.js';
import { psCommand } from './commands/ps.js';
import { stopCommand } from './commands/stop.js';
import { killCommand } from './commands/kill.js';
import { rmCommand } from './commands/rm.js';
import { logsCommand } from './commands/logs.js';
import { inspectCommand } from './commands/inspect.js';
import { diffCommand } from './commands/diff.js';
import { commitCommand } from './commands/commit.js';
// registries
import { pullCommand } from './commands/pull.js';
import { pushCommand } from './commands/push.js';
import { loginCommand, logoutCommand } from './commands/login.js';
// builds
import { buildCommand } from './commands/build.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- yargs' own typing of heterogeneous commands
export const commands: CommandModule<any, any>[] = [
  mountCommand,
  umountCommand,
  explainCommand,
  importCommand,
  saveCommand,
  loadCommand,
  imagesCommand,
  historyCommand,
  tagCommand,
  rmiCommand,
  pruneCommand,
  runCommand,
  execCommand,
  psCommand,
  stopCommand,
  killCommand,
  rmCommand,
  logsCommand,
  inspectCommand,
  diffCommand,
  commitCommand,
  pullCommand,
  pushCommand,
  loginCommand,
  logoutCommand,
  buildCommand,
];
