// `strata run IMAGE ls -l` and `strata exec C sh -c ...`: what follows the image or the
// container is the command's own argv, options included, as with docker. yargs cannot
// stop parsing there by itself (its halt-at-non-option breaks command positionals,
// yargs#2423), so a `--` is put in after it before yargs sees the line.

/** Per command: its options that take a value (the rest are flags). */
const VALUE_OPTIONS: Record<string, string[]> = {
  run: ['-e', '--env', '-w', '--workdir', '-u', '--user', '--name', '--hostname', '--network', '-v', '--volume'],
  exec: ['-e', '--env', '-w', '--workdir'],
};
const GLOBAL_VALUE_OPTIONS = ['--root'];

const takesValue = (tok: string, extra: string[]): boolean => !tok.includes('=') && [...GLOBAL_VALUE_OPTIONS, ...extra].includes(tok);

/** Where the command's name is in argv: past the global options (argv.length if none). */
export function commandIndex(argv: string[]): number {
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '--') i += takesValue(argv[i]!, []) ? 2 : 1;
  return i;
}

export function splitPassthrough(argv: string[]): string[] {
  const i = commandIndex(argv);
  const command = argv[i];
  const values = command === undefined ? undefined : VALUE_OPTIONS[command];
  if (!values) return argv;
  for (let j = i + 1; j < argv.length; j++) {
    const tok = argv[j]!;
    if (tok === '--') return argv;
    if (tok.startsWith('-') && tok !== '-') {
      if (takesValue(tok, values)) j++;
      continue;
    }
    // tok is the image (run) or the container (exec)
    if (argv[j + 1] === '--') return argv;
    return [...argv.slice(0, j + 1), '--', ...argv.slice(j + 1)];
  }
  return argv;
}
