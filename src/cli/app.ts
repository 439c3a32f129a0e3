// Builds the yargs program from the command modules and turns failures into one line.
import yargs, { type Argv } from 'yargs';
import { commands, type AnyCommand } from './commands.js';
import { version } from './version.js';
import { UserError } from './errors.js';
import { commandIndex, splitPassthrough } from './passthrough.js';

// yargs 17 is bundled into strata's main.js from its CommonJS build, one file (see
// scripts/bundle.mjs): unbundled, it took ~30 ms to load here, a third of it finding its
// dozen dependencies' package.json files; its ESM entry (which tsc's output loads, for
// tests) ~55 ms.

export interface GlobalArgs {
  root?: string;
}

function describeError(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0] ?? String(e);
  return String(e);
}

/** The command modules yargs needs for argv: the named command's alone (a command's help
 * and errors show only its own usage), none for a bare --version, else all of them: the
 * global help lists them, and yargs suggests one for a misspelt name. Each module costs
 * ~1.5 ms through Node 20's ESM loader, ~40 ms for all. */
async function commandsFor(argv: string[]): Promise<AnyCommand[]> {
  const i = commandIndex(argv);
  const name = argv[i];
  const named = name === undefined ? undefined : commands.find((c) => c.name === name || c.aliases?.includes(name));
  if (named) return [await named.load()];
  const flags = argv.slice(0, i);
  if (name === undefined && flags.some((f) => f === '--version' || f === '-v') && !flags.some((f) => f === '--help' || f === '-h')) return [];
  return Promise.all(commands.map((c) => c.load()));
}

const helpWidth = (): number => Math.min(100, process.stdout.columns || 100);

/** --help or -h among strata's own arguments (own: argv after splitPassthrough; what
 * follows its `--` is a container's command) */
function wantsHelp(own: string[]): boolean {
  const end = own.indexOf('--');
  return (end < 0 ? own : own.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** yargs 17 renders the command's whole help right after starting its handler (its usage
 * instance's cacheHelpMessage), for a help shown should the handler fail; strata shows
 * none then (a handler's error is one line: .fail() rethrows it), and that rendering
 * (string-width on every cell) took ~25 ms of every command's start. */
function skipHelpCache(program: Argv): void {
  type Internal = { getInternalMethods(): { getUsageInstance(): { cacheHelpMessage(): void } } };
  // one instance for the program's life: yargs resets it in place for each command
  (program as unknown as Internal).getInternalMethods().getUsageInstance().cacheHelpMessage = () => undefined;
}

export async function run(argv: string[]): Promise<void> {
  const own = splitPassthrough(argv);
  let program: Argv = yargs(own)
    .scriptName('strata')
    .usage('$0 <command> [options]\n\nA union filesystem in userspace, and containers built on it.')
    .option('root', {
      type: 'string',
      describe: 'image store root (default $STRATA_ROOT, /var/lib/strata as root, ~/.local/share/strata otherwise)',
      global: true,
    })
    .version(version())
    .help()
    .alias('h', 'help')
    .strict()
    .demandCommand(1, 'name a command; see strata --help')
    .recommendCommands()
    // yargs renders (and caches) the command's whole help before every handler runs, ~50 ms
    // of word wrapping here: wrap only when help is printed (asked for, or after an error)
    .wrap(wantsHelp(own) ? helpWidth() : null)
    .fail((msg, err, y) => {
      if (err) throw err;
      process.stderr.write(`strata: ${msg}\n\n`);
      y.wrap(helpWidth());
      y.showHelp((s: string) => process.stderr.write(s + '\n'));
      process.exit(2);
    });
  // `strata -v` is the version; after a command -v is the command's (run -v is --volume)
  if (commandIndex(argv) >= argv.length) program = program.alias('v', 'version');
  for (const c of await commandsFor(argv)) program = program.command(c);
  skipHelpCache(program);
  try {
    await program.parseAsync();
  } catch (e) {
    process.stderr.write(`strata: ${describeError(e)}\n`);
    if (process.env.STRATA_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exitCode = e instanceof UserError ? e.exitCode : 1;
    throw e;
  }
}
