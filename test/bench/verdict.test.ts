// The union table's "met" column: a goal against a peer's median is met, missed, or a tie
// (slower by less than the runs' own spread, and by under 5%).
import test from 'ava';
import { Samples } from '../../bench/lib/measure.js';
import { atMost, noSlowerThanFuseOverlayfs, workloads } from '../../bench/union/workloads.js';

const peers = (fo: number, kernel?: number): Map<string, number> =>
  new Map([['fuse-overlayfs', fo], ...(kernel === undefined ? [] : ([['kernel', kernel]] as const))]);
const spreads =
  (s: Record<string, number>) =>
  (who: string): number | undefined =>
    s[who];

test('at or below the peer is met; slower by less than the spread and 5% is a tie; else missed', (t) => {
  const met = noSlowerThanFuseOverlayfs.met;
  t.is(met(1.0, peers(1.0), spreads({})), true);
  t.is(met(0.9, peers(1.0), spreads({})), true);
  // 2% slower: a tie when either contender's runs spread wider than 2%, else missed
  t.is(met(1.02, peers(1.0), spreads({ strata: 0.03 })), 'tie');
  t.is(met(1.02, peers(1.0), spreads({ 'fuse-overlayfs': 0.025 })), 'tie');
  t.is(met(1.02, peers(1.0), spreads({ strata: 0.01, 'fuse-overlayfs': 0.01 })), false);
  t.is(met(1.02, peers(1.0), spreads({})), false, 'one run: no spread, no tie');
  // never past 5%, however noisy the runs
  t.is(met(1.06, peers(1.0), spreads({ strata: 0.5 })), false);
  t.is(met(1.0, new Map(), spreads({})), undefined, 'no peer measured');
});

test('a factor bounds the tie by the bound, not by the peer', (t) => {
  const within = atMost('kernel', 1.5);
  t.is(within(1.5, new Map([['kernel', 1.0]]), spreads({})), true);
  t.is(within(1.53, new Map([['kernel', 1.0]]), spreads({ kernel: 0.03 })), 'tie');
  t.is(within(1.53, new Map([['kernel', 1.0]]), spreads({ kernel: 0.01 })), false);
});

test('the warm goals: a tie with either bound is a tie, a miss of either a miss', (t) => {
  const warm = workloads.find((w) => w.id === 'stat-warm')!.goal.met;
  t.is(warm(1.0, peers(1.0, 1.0), spreads({})), true);
  t.is(warm(1.01, peers(1.0, 1.0), spreads({ strata: 0.02 })), 'tie');
  t.is(warm(1.6, peers(2.0, 1.0), spreads({ strata: 0.2 })), false, 'over 1.5× the kernel by 6.7%');
  t.is(warm(1.01, peers(1.0, 1.0), spreads({})), false);
});

test('Samples.spread: half the range over the median; none for one sample', (t) => {
  const s = new Samples();
  s.add('r', 'a', 1.0);
  t.is(s.spread('r', 'a'), undefined);
  s.add('r', 'a', 1.2);
  s.add('r', 'a', 1.1);
  t.is(Math.round(s.spread('r', 'a')! * 1e6) / 1e6, Math.round((0.1 / 1.1) * 1e6) / 1e6);
  t.is(s.spread('r', 'nobody'), undefined);
});
