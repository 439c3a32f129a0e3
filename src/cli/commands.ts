// Every strata command, one module each under commands/, grouped by the part of Strata
// they drive. Add new ones to this list, one line each: the name (and aliases) yargs
// matches, and how to load the module. Only the invoked command's module is loaded
// (app.ts); --help, no command or an unknown one load them all.
import type { CommandModule } from 'yargs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- yargs' own typing of heterogeneous commands
export type AnyCommand = CommandModule<any, any>;

export interface CommandEntry {
  /** the first word of the module's `command` */
  name: string;
  aliases?: string[];
  load: () => Promise<AnyCommand>;
}

export const commands: CommandEntry[] = [
  // union mounts
  { name: 'mount', load: async () => (await import('./commands/mount.js')).mountCommand },
  { name: 'umount', aliases: ['unmount'], load: async () => (await import('./commands/umount.js')).umountCommand },
  { name: 'explain', load: async () => (await import('./commands/explain.js')).explainCommand },
  // images
  { name: 'import', load: async () => (await import('./commands/import.js')).importCommand },
  { name: 'save', load: async () => (await import('./commands/save.js')).saveCommand },
  { name: 'load', load: async () => (await import('./commands/load.js')).loadCommand },
  { name: 'images', load: async () => (await import('./commands/images.js')).imagesCommand },
  { name: 'history', load: async () => (await import('./commands/history.js')).historyCommand },
  { name: 'tag', load: async () => (await import('./commands/tag.js')).tagCommand },
  { name: 'rmi', load: async () => (await import('./commands/rmi.js')).rmiCommand },
  { name: 'prune', load: async () => (await import('./commands/prune.js')).pruneCommand },
  // containers (inspect shows containers and images, as docker's does)
  { name: 'run', load: async () => (await import('./commands/run.js')).runCommand },
  { name: 'exec', load: async () => (await import('./commands/exec.js')).execCommand },
  { name: 'ps', load: async () => (await import('./commands/ps.js')).psCommand },
  { name: 'stop', load: async () => (await import('./commands/stop.js')).stopCommand },
  { name: 'kill', load: async () => (await import('./commands/kill.js')).killCommand },
  { name: 'rm', load: async () => (await import('./commands/rm.js')).rmCommand },
  { name: 'logs', load: async () => (await import('./commands/logs.js')).logsCommand },
  { name: 'inspect', load: async () => (await import('./commands/inspect.js')).inspectCommand },
  { name: 'diff', load: async () => (await import('./commands/diff.js')).diffCommand },
  { name: 'commit', load: async () => (await import('./commands/commit.js')).commitCommand },
  // registries
  { name: 'pull', load: async () => (await import('./commands/pull.js')).pullCommand },
  { name: 'push', load: async () => (await import('./commands/push.js')).pushCommand },
  { name: 'login', load: async () => (await import('./commands/login.js')).loginCommand },
  { name: 'logout', load: async () => (await import('./commands/login.js')).logoutCommand },
  // builds
  { name: 'build', load: async () => (await import('./commands/build.js')).buildCommand },
];
