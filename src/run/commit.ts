// `strata commit`: the container layer becomes a new image layer on top of the
// container's image, with the container's settings as the new config (as Docker does),
// -c changes applied, and a history entry.
import { UserError } from '../errors.js';
import { runtimePaths } from './diff.js';
import { commitLayer, type ResolvedImage } from './image.js';
import { mountProgramMarkers } from './layers.js';
import type { ImageConfig, ImageRuntimeConfig } from './image-config.js';
import { findContainer, layout, type ContainerConfig } from './state.js';

export interface CommitOptions {
  message?: string;
  author?: string;
  changes?: string[];
}

/** A JSON array (exec form) or a shell command (shell form), as in a Dockerfile. */
function commandForm(arg: string): string[] {
  const t = arg.trim();
  if (t.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      throw new UserError(`bad exec form ${t}: not a JSON array of strings`);
    }
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new UserError(`bad exec form ${t}: not a JSON array of strings`);
    return v as string[];
  }
  return ['/bin/sh', '-c', t];
}

function pairs(arg: string, what: string): [string, string][] {
  const t = arg.trim();
  if (!t.includes('=')) {
    const sp = t.search(/\s/);
    if (sp < 0) throw new UserError(`bad ${what} change "${arg}": expected KEY=VALUE or KEY VALUE`);
    return [[t.slice(0, sp), t.slice(sp).trim()]];
  }
  return (t.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []).map((kv) => {
    const i = kv.indexOf('=');
    if (i <= 0) throw new UserError(`bad ${what} change "${arg}": expected KEY=VALUE`);
    return [kv.slice(0, i), kv.slice(i + 1).replace(/^"(.*)"$/, '$1')];
  });
}

/** Applies one Dockerfile-style instruction (-c 'CMD ["sh"]', -c 'ENV A=1', ...). */
export function applyChange(cfg: ImageRuntimeConfig, change: string): void {
  const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(change);
  if (!m) throw new UserError(`bad change "${change}": expected INSTRUCTION ARGS`);
  const arg = m[2]!;
  switch (m[1]!.toUpperCase()) {
    case 'CMD':
      cfg.Cmd = commandForm(arg);
      break;
    case 'ENTRYPOINT':
      cfg.Entrypoint = commandForm(arg);
      break;
    case 'ENV':
      for (const [k, v] of pairs(arg, 'ENV')) cfg.Env = [...(cfg.Env ?? []).filter((e) => !e.startsWith(`${k}=`)), `${k}=${v}`];
      break;
    case 'LABEL':
      for (const [k, v] of pairs(arg, 'LABEL')) cfg.Labels = { ...(cfg.Labels ?? {}), [k]: v };
      break;
    case 'WORKDIR':
      cfg.WorkingDir = arg.trim();
      break;
    case 'USER':
      cfg.User = arg.trim();
      break;
    case 'EXPOSE':
      for (const p of arg.trim().split(/\s+/)) cfg.ExposedPorts = { ...(cfg.ExposedPorts ?? {}), [p.includes('/') ? p : `${p}/tcp`]: {} };
      break;
    case 'STOPSIGNAL':
      cfg.StopSignal = arg.trim();
      break;
    case 'VOLUME':
      for (const v of arg.trim().startsWith('[') ? commandForm(arg) : arg.trim().split(/\s+/)) cfg.Volumes = { ...(cfg.Volumes ?? {}), [v]: {} };
      break;
    default:
      throw new UserError(`unsupported change instruction ${m[1]}: use CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER, EXPOSE, STOPSIGNAL or VOLUME`);
  }
}

/** The config of the committed image: the container's own settings, then the changes. */
export function committedConfig(c: ContainerConfig, changes: string[] = []): ImageConfig {
  const base = structuredClone(c.imageConfig);
  const cfg: ImageRuntimeConfig = {
    ...(base.config ?? {}),
    Env: c.env.filter((e) => !e.startsWith('HOSTNAME=')),
    Cmd: c.cmd,
    WorkingDir: c.workingDir,
  };
  if (c.user) cfg.User = c.user;
  for (const ch of changes) applyChange(cfg, ch);
  return { ...base, config: cfg, created: new Date().toISOString() };
}

export const defaultTag = (ref: string): string => (/:[^/]+$/.test(ref) ? ref : `${ref}:latest`);

export async function commitContainer(root: string, ref: string, target: string, o: CommitOptions = {}): Promise<ResolvedImage> {
  const c = findContainer(root, ref);
  if (!c.config.image.ref && !c.config.image.id) throw new UserError(`container ${c.config.name} was not made from a stored image`);
  const config = committedConfig(c.config, o.changes);
  const created = new Date();
  const upper = layout(c.dir).upper;
  return commitLayer(root, {
    parentRef: c.config.image.id || c.config.image.ref,
    layerDir: upper,
    exclude: [...runtimePaths(c.config), ...mountProgramMarkers(upper)],
    config,
    history: {
      created: created.toISOString(),
      created_by: `strata commit ${c.config.argv.join(' ')}`,
      ...(o.message ? { comment: o.message } : {}),
      ...(o.author ? { author: o.author } : {}),
    },
    tag: defaultTag(target),
  });
}
