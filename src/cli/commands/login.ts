import type { CommandModule } from 'yargs';
import { UserError } from '../errors.js';

interface LoginArgs {
  registry: string;
  username?: string;
  password?: string;
  'password-stdin': boolean;
  'tls-verify': boolean;
}

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts).toString('utf8').replace(/\r?\n$/, '');
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    // raw mode first: what is typed after the prompt appears must never be echoed
    stdin.setRawMode(true);
    process.stderr.write(question);
    stdin.resume();
    let value = '';
    const onData = (d: Buffer): void => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          finish();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new UserError('login cancelled', 130));
          return;
        }
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

export const loginCommand: CommandModule<object, LoginArgs> = {
  command: 'login <registry>',
  describe: 'check credentials against a registry and keep them (in $XDG_CONFIG_HOME/strata/auth.json, mode 0600)',
  builder: (y) =>
    y
      .positional('registry', { type: 'string', demandOption: true, describe: 'HOST[:PORT]' })
      .option('username', { alias: 'u', type: 'string', describe: 'user name' })
      .option('password', { alias: 'p', type: 'string', describe: 'password (visible to other users in ps; prefer --password-stdin)' })
      .option('password-stdin', { type: 'boolean', default: false, describe: 'read the password from standard input' })
      .option('tls-verify', { type: 'boolean', default: true, describe: 'require https with a valid certificate (false also allows plain http)' }),
  handler: async (a) => {
    const { login } = await import('../../registry/login.js');
    if (!a.username) throw new UserError('login: give a user name with -u USER');
    let password = a.password;
    if (a['password-stdin']) password = await readStdin();
    else if (password === undefined) {
      if (!process.stdin.isTTY) throw new UserError('login: no terminal to ask for the password; use --password-stdin');
      password = await promptHidden('Password: ');
    }
    const registry = await login(a.registry, { username: a.username, password }, { tlsVerify: a['tls-verify'] });
    process.stdout.write(`Login Succeeded: ${registry}\n`);
  },
};

export const logoutCommand: CommandModule<object, { registry: string }> = {
  command: 'logout <registry>',
  describe: 'forget the credentials kept for a registry',
  builder: (y) => y.positional('registry', { type: 'string', demandOption: true, describe: 'HOST[:PORT]' }),
  handler: async (a) => {
    const { logout } = await import('../../registry/login.js');
    process.stdout.write(`Removed login credentials for ${logout(a.registry)}\n`);
  },
};
