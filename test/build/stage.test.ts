// ARG scoping, ENV, and what each instruction does to the image config and its history.
import test from 'ava';
import { parseDockerfile } from '../../src/build/parser.js';
import { readDockerfile } from '../../src/build/instructions.js';
import { StageState, type BuildArgs, type Step, PROXY_ARGS } from '../../src/build/stage.js';
import { planBuild, unusedBuildArgs } from '../../src/build/plan.js';
import { goDuration, scratchConfig, type ImageConfig } from '../../src/build/config.js';

function evaluate(text: string, given: Record<string, string> = {}, target?: string, base: ImageConfig = scratchConfig()) {
  const df = readDockerfile(parseDockerfile(text));
  const args: BuildArgs = { given: new Map(Object.entries(given)), consumed: new Set() };
  const plan = planBuild(df, args, target);
  const results = plan.stages.map((p) => {
    const st = new StageState(base, df.file, df.escape, args, plan.globalArgs);
    const steps: Step[] = p.stage.instructions.map((i) => st.apply(i));
    return { plan: p, image: st.image, steps };
  });
  return { results, args, last: results[results.length - 1]! };
}

const createdBy = (s: Step): string => (s.type === 'copy' ? '' : s.createdBy);

test('ENV both forms; later instructions see it; one line sees the env before it', (t) => {
  const { last } = evaluate('FROM scratch\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi $abc and more\nWORKDIR /$ghi\n');
  t.deepEqual(last.image.config.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'abc=bye', 'def=hello', 'ghi=bye and more']);
  t.is(last.image.config.WorkingDir, '/bye and more');
  t.is(createdBy(last.steps[1]!), '/bin/sh -c #(nop)  ENV abc=bye def=hello');
});

test('global ARGs are for FROM only, unless the stage declares them again', (t) => {
  const { last } = evaluate('ARG TAG=1.0\nARG FLAVOR\nFROM base:$TAG\nLABEL a=[$TAG]\nARG TAG\nLABEL b=[$TAG]\n');
  t.deepEqual(last.plan.base, { image: 'base:1.0' });
  t.deepEqual(last.image.config.Labels, { a: '[]', b: '[1.0]' });
});

test('--build-arg overrides defaults (global and stage); a stage default beats the global value', (t) => {
  const text = 'ARG V=g\nFROM x:$V\nARG V=s\nARG W\nLABEL v=$V w=$W\n';
  t.deepEqual(evaluate(text).last.image.config.Labels, { v: 's', w: '' });
  const r = evaluate(text, { V: 'cli', W: 'w' });
  t.deepEqual(r.last.plan.base, { image: 'x:cli' });
  t.deepEqual(r.last.image.config.Labels, { v: 'cli', w: 'w' });
});

test('ENV wins over an ARG of the same name; ARG defaults expand', (t) => {
  const { last } = evaluate('FROM scratch\nARG A=arg\nARG B=${A}-b\nENV A=env\nLABEL a=$A b=$B\n');
  t.deepEqual(last.image.config.Labels, { a: 'env', b: 'arg-b' });
});

test('RUN sees the ARGs as env and they are in its history (so in its cache key); proxies are neither', (t) => {
  const { last } = evaluate('FROM scratch\nARG A=1\nARG B\nRUN echo $A\nENV A=2\nRUN x\n', { HTTP_PROXY: 'http://p:3128' });
  const [, , run1, , run2] = last.steps;
  t.like(run1, { type: 'run', createdBy: 'RUN |1 A=1 /bin/sh -c echo $A', argv: ['/bin/sh', '-c', 'echo $A'] });
  t.true((run1 as { env: string[] }).env.includes('A=1'));
  t.true((run1 as { env: string[] }).env.includes('HTTP_PROXY=http://p:3128'));
  t.is(createdBy(run2!), 'RUN /bin/sh -c x', 'an ARG shadowed by ENV is not passed again');
  t.false(createdBy(run1!).includes('PROXY'));
});

test('a changed build arg changes RUN steps after the ARG line, not before', (t) => {
  const text = 'FROM scratch\nRUN before\nARG V=1\nRUN after\n';
  const a = evaluate(text).last.steps.map(createdBy);
  const b = evaluate(text, { V: '2' }).last.steps.map(createdBy);
  t.is(a[0], b[0]);
  t.not(a[2], b[2]);
});

test('unused build args are reported; predefined ones are not', (t) => {
  const { args } = evaluate('ARG G\nFROM scratch\nARG S\n', { G: '1', S: '2', NOPE: '3', HTTP_PROXY: 'x' });
  t.deepEqual(unusedBuildArgs(args, PROXY_ARGS), ['NOPE']);
});

test('the predefined platform args exist in the global scope', (t) => {
  const { last } = evaluate('FROM img-$TARGETOS\nARG TARGETARCH\nLABEL arch=$TARGETARCH\n');
  t.deepEqual(last.plan.base, { image: 'img-linux' });
  t.truthy(last.image.config.Labels!.arch);
});

test('config effects: CMD, ENTRYPOINT, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK, ONBUILD, SHELL', (t) => {
  const { last } = evaluate([
    'FROM scratch',
    'ENV P=8080',
    'CMD echo hi',
    'EXPOSE $P 53/UDP 7000-7001',
    'VOLUME /data /logs',
    'VOLUME ["/v 1"]',
    'USER app:grp',
    'LABEL "x y"="1 2" version=$P',
    'STOPSIGNAL SIGQUIT',
    'HEALTHCHECK --interval=5s --retries=2 CMD ["/bin/check", "-v"]',
    'ONBUILD run echo child',
    'SHELL ["/bin/ash", "-eo", "pipefail", "-c"]',
    'ENTRYPOINT ["/init"]',
    'MAINTAINER me',
  ].join('\n'));
  const c = last.image.config;
  t.deepEqual(c.Cmd, ['/bin/sh', '-c', 'echo hi']);
  t.deepEqual(c.ExposedPorts, { '8080/tcp': {}, '53/udp': {}, '7000/tcp': {}, '7001/tcp': {} });
  t.deepEqual(Object.keys(c.Volumes!), ['/data', '/logs', '/v 1']);
  t.is(c.User, 'app:grp');
  t.deepEqual(c.Labels, { 'x y': '1 2', version: '8080' });
  t.is(c.StopSignal, 'SIGQUIT');
  t.deepEqual(c.Healthcheck, { Test: ['CMD', '/bin/check', '-v'], Interval: 5e9, Retries: 2 });
  t.deepEqual(c.OnBuild, ['RUN echo child']);
  t.deepEqual(c.Shell, ['/bin/ash', '-eo', 'pipefail', '-c']);
  t.deepEqual(c.Entrypoint, ['/init']);
  t.deepEqual(c.Cmd, ['/bin/sh', '-c', 'echo hi'], 'a CMD of this stage survives ENTRYPOINT');
  t.is(last.image.author, 'me');
  t.deepEqual(last.steps.map(createdBy).slice(1, 4), [
    '/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "echo hi"]',
    '/bin/sh -c #(nop)  EXPOSE 8080/tcp 53/udp 7000/tcp 7001/tcp',
    '/bin/sh -c #(nop)  VOLUME [/data /logs]',
  ]);
  t.is(createdBy(last.steps[11]!), '/bin/ash -eo pipefail -c #(nop)  ENTRYPOINT ["/init"]', 'nop entries name the current shell');
});

test('ENTRYPOINT resets an inherited CMD', (t) => {
  const base = scratchConfig();
  base.config.Cmd = ['sh'];
  t.is(evaluate('FROM b\nENTRYPOINT ["/e"]\n', {}, undefined, base).last.image.config.Cmd, null);
});

test('HEALTHCHECK NONE, shell-form healthcheck; bad STOPSIGNAL, EXPOSE, chmod fail with the line', (t) => {
  t.deepEqual(evaluate('FROM s\nHEALTHCHECK NONE\n').last.image.config.Healthcheck, { Test: ['NONE'] });
  t.is(createdBy(evaluate('FROM s\nHEALTHCHECK --interval=90s --timeout=1500ms --retries=3 CMD x\n').last.steps[0]!), '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "x"] "1m30s" "1.5s" "0s" "0s" 3}');
  t.deepEqual(evaluate('FROM s\nHEALTHCHECK CMD curl -f x || exit 1\n').last.image.config.Healthcheck, { Test: ['CMD-SHELL', 'curl -f x || exit 1'] });
  t.throws(() => evaluate('FROM s\nSTOPSIGNAL SIGNOPE\n'), { message: 'Dockerfile:2: invalid signal: SIGNOPE: STOPSIGNAL SIGNOPE' });
  t.throws(() => evaluate('FROM s\nEXPOSE http\n'), { message: /^Dockerfile:2: invalid containerPort: http/ });
  t.throws(() => evaluate('FROM s\nCOPY --chmod=rwx a b\n'), { message: /^Dockerfile:2: invalid --chmod=rwx/ });
  t.throws(() => evaluate('FROM s\nENV X=${NOPE:?required}\n'), { message: /^Dockerfile:2: NOPE: required: ENV/ });
  t.throws(() => evaluate('FROM s\nRUN --mount=type=cache,target=/c x\n'), { message: /RUN --mount is not supported/ });
});

test('RUN heredocs: a lone heredoc is the script; otherwise heredocs follow the command', (t) => {
  const { last } = evaluate('FROM s\nRUN <<EOF\necho one\necho two\nEOF\nRUN cat <<A > /f\nbody\nA\n');
  t.deepEqual((last.steps[0] as { argv: string[] }).argv, ['/bin/sh', '-c', 'echo one\necho two\n']);
  t.deepEqual((last.steps[1] as { argv: string[] }).argv, ['/bin/sh', '-c', 'cat <<A > /f\nbody\nA\n']);
  const py = evaluate('FROM s\nRUN <<SCRIPT\n#!/usr/bin/env python3\nprint(1)\nSCRIPT\n').last.steps[0]!;
  t.like(py, { type: 'run', argv: ['/.strata-heredoc/SCRIPT'], script: { path: '/.strata-heredoc/SCRIPT', content: '#!/usr/bin/env python3\nprint(1)\n' } });
});

test('COPY steps: expansion of sources, dest, --from, --chown; heredoc content expanded unless quoted', (t) => {
  const { last } = evaluate("FROM s\nARG D=/dst F=build\nWORKDIR /w\nCOPY --from=$F --chown=$D a$D ${D}/\nCOPY <<x.txt <<'y.txt' /e/\n$D \"q\"\nx.txt\n$D\ny.txt\n");
  const [, , c1, c2] = last.steps;
  t.like(c1, { type: 'copy', sources: ['a/dst'], dest: '/dst/', from: 'build', chown: '/dst', workdir: '/w' });
  const h = (c2 as { heredocs: Map<string, Buffer> }).heredocs;
  t.is(h.get('x.txt')!.toString(), '/dst "q"\n');
  t.is(h.get('y.txt')!.toString(), '$D\n');
});

test('the stage graph: --target, FROM an earlier stage, COPY --from by name and index; unneeded stages skipped', (t) => {
  const text = 'FROM a AS one\nFROM b AS two\nFROM one AS three\nCOPY --from=1 x y\nFROM c AS four\nCOPY --from=three x y\n';
  const order = (target?: string) => evaluate(text, {}, target).results.map((r) => r.plan.stage.name);
  t.deepEqual(order(), ['one', 'two', 'three', 'four']);
  t.deepEqual(order('three'), ['one', 'two', 'three']);
  t.deepEqual(order('two'), ['two']);
  const r = evaluate(text).results;
  t.deepEqual(r[2]!.plan.base, { stage: 0 });
  t.deepEqual(r[2]!.plan.copiesFrom, [1]);
  t.deepEqual(r[0]!.plan.base, { image: 'a' });
  t.throws(() => evaluate(text, {}, 'nine'), { message: '--target nine: no stage of that name in Dockerfile (stages: one, two, three, four)' });
});

test('FROM --platform: the machine\'s own platform (also as $BUILDPLATFORM) is fine, another one is refused', (t) => {
  t.notThrows(() => evaluate('FROM --platform=$BUILDPLATFORM a\n'));
  t.throws(() => evaluate('FROM --platform=windows/amd64 a\n'), { message: /^Dockerfile:1: --platform=windows\/amd64: only linux\/\w+ images can be built here/ });
});

test('COPY --exclude (repeatable) and ADD --checksum reach the step; unknown COPY flags do not pass', (t) => {
  const { last } = evaluate('FROM s\nARG E=*.md\nCOPY --exclude=$E --exclude=tmp a /b\nADD --checksum=sha256:00 http://x/y /z\n');
  t.like(last.steps[1], { type: 'copy', exclude: ['*.md', 'tmp'] });
  t.like(last.steps[2], { type: 'copy', checksum: 'sha256:00' });
  t.throws(() => evaluate('FROM s\nCOPY --parents a b\n'), { message: /unknown flag: --parents/ });
  t.throws(() => evaluate('FROM s\nRUN --network=bridge x\n'), { message: /RUN --network=bridge: none, host or default/ });
});

test('goDuration prints as Go does', (t) => {
  t.deepEqual([0, 500, 1500, 2e6, 5e9, 90e9, 3600e9 + 1e9].map(goDuration), ['0s', '500ns', '1.5µs', '2ms', '5s', '1m30s', '1h0m1s']);
});
