import type { CommandModule } from 'yargs';
import { takeEarlyInit } from '../../run/early-init.js';

interface Args {
  root?: string;
  image: string;
  command?: string[];
  rm: boolean;
  detach: boolean;
  interactive: boolean;
  tty: boolean;
  name?: string;
  env?: string | string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  network: string;
  volume?: string | string[];
}

/** The command after IMAGE or CONTAINER: yargs leaves what follows `--` in _ (after the command name). */
export const commandTail = (a: { command?: string[]; _: (string | number)[] }): string[] =>
  a.command && a.command.length > 0 ? a.command : a._.slice(1).map(String);

export const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export const runCommand: CommandModule<object, Args> = {
  command: 'run <image> [command..]',
  describe: 'run a command in a new container made from IMAGE',
  builder: (y) =>
    y
      .positional('image', { type: 'string', demandOption: true, describe: 'image name[:tag], id or digest' })
      .positional('command', { type: 'string', array: true, describe: "command and arguments (default: the image's Entrypoint and Cmd)" })
      .option('rm', { type: 'boolean', default: false, describe: 'remove the container when it exits' })
      .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'run in the background, print the id; output goes to its log' })
      .option('interactive', { alias: 'i', type: 'boolean', default: false, describe: 'keep stdin attached' })
      .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'give the command a terminal' })
      .option('name', { type: 'string', describe: 'a unique name for the container' })
      .option('env', { alias: 'e', type: 'string', describe: 'set K=V (or pass K from here); repeatable' })
      .option('workdir', { alias: 'w', type: 'string', describe: 'working directory in the container' })
      .option('user', { alias: 'u', type: 'string', describe: 'USER[:GROUP], names from the image or numbers' })
      .option('hostname', { type: 'string', describe: 'hostname in the container (default: the short id)' })
      .option('network', { type: 'string', default: 'none', choices: ['none', 'host'], describe: 'none: only loopback; host: the host network' })
      .option('volume', { alias: 'v', type: 'string', describe: 'bind HOSTDIR:DIR[:ro]; repeatable' }),
  handler: async (a) => {
    // strata-init, started by main.ts before anything was parsed (rootless only)
    const early = takeEarlyInit();
    const { resolveImage } = await import('../../run/image.js');
    const { storeRoot } = await import('../../image/root.js');
    const { runContainer } = await import('../../run/run.js');
    const root = storeRoot(a.root);
    let image;
    try {
      image = await resolveImage(root, a.image);
    } catch (e) {
      await early?.drop();
      throw e;
    }
    process.exitCode = await runContainer(
      { root, lowers: image.layerDirs, config: image.config, image: { id: image.id, ref: a.image } },
      {
        rm: a.rm, detach: a.detach, interactive: a.interactive, tty: a.tty, name: a.name, env: list(a.env), workdir: a.workdir,
        user: a.user, hostname: a.hostname, network: a.network, volumes: list(a.volume), command: commandTail(a),
      },
      process.stdout,
      image,
      early,
    );
  },
};
