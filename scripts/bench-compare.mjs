#!/usr/bin/env node
/**
 * `npm run bench:compare -- <git ref> [--rounds N] [--instances N]`: the quick create benchmark (embedded server, no
 * idle waits) on this working tree and on another commit, alternated in one run (A B B A …), with the medians of
 * each side and their ratio. On a shared machine one run's absolute figures move by tens of percent from run to run;
 * a ratio of interleaved runs is what tells whether a change helped.
 *
 * The other commit is checked out into a temporary git worktree, shares this tree's node_modules when its
 * package-lock.json is the same (npm ci there otherwise), is built there and removed at the end.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 && args[index + 1] ? args[index + 1] : fallback;
};
const ref = args.find((arg, i) => !arg.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (!ref) {
  console.error('usage: npm run bench:compare -- <git ref> [--rounds N] [--instances N]');
  process.exit(2);
}
const rounds = Number(option('rounds', '3'));
const instances = option('instances', '5000');
const here = resolve(new URL('..', import.meta.url).pathname);

const FIGURES = [
  ['creates/s', /^\| creates\/s accepted/],
  ['POST p99 ms', /^\| POST p99 ms/],
  ['POST→RUNNING p99 ms', /^\| POST→RUNNING p99 ms/],
  ['CPU ms/create Kumo', /^\| CPU ms per create, Kumo/],
  ['CPU ms/create PostgreSQL', /^\| CPU ms per create, PostgreSQL/],
  ['CPU ms/create client', /^\| CPU ms per create, bench client/],
];

function git(...gitArgs) {
  return execFileSync('git', gitArgs, { cwd: here, encoding: 'utf8' }).trim();
}

function build(dir) {
  const result = spawnSync('npm', ['run', 'build', '--silent'], { cwd: dir, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`build failed in ${dir}`);
}

function quickBench(dir) {
  const result = spawnSync(
    process.execPath,
    ['dist/bench/create-bench.js', '--only', 'embedded', '--instances', instances, '--fill', String(Number(instances) + 4000), '--no-idle'],
    { cwd: dir, encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`bench failed in ${dir}:\n${result.stderr}`);
  const lines = result.stdout.split('\n');
  return FIGURES.map(([, pattern]) => {
    const line = lines.find((l) => pattern.test(l));
    return line ? Number(line.split('|')[3]) : Number.NaN;
  });
}

const median = (values) => {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

const sha = git('rev-parse', '--short', ref);
const worktree = mkdtempSync(join(tmpdir(), `kumo-compare-${sha}-`));
rmSync(worktree, { recursive: true, force: true });
git('worktree', 'add', '--detach', worktree, ref);
try {
  const sameLock = readFileSync(join(here, 'package-lock.json'), 'utf8') === readFileSync(join(worktree, 'package-lock.json'), 'utf8');
  if (sameLock && existsSync(join(here, 'node_modules'))) symlinkSync(join(here, 'node_modules'), join(worktree, 'node_modules'));
  else execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: worktree, stdio: 'inherit' });
  build(worktree);
  build(here);

  const sides = { base: [], head: [] };
  for (let round = 0; round < rounds; round++) {
    // A B, then B A: a machine that slows down or speeds up during the run weighs on both sides alike.
    const order = round % 2 === 0 ? ['base', 'head'] : ['head', 'base'];
    for (const side of order) {
      const figures = quickBench(side === 'base' ? worktree : here);
      sides[side].push(figures);
      console.log(`round ${round + 1} ${side}: ${figures.map((f, i) => `${FIGURES[i][0]} ${f}`).join(', ')}`);
    }
  }
  console.log(`\n| figure (median of ${rounds}) | ${sha} | this tree | this tree ÷ ${sha} |`);
  console.log('|---|---|---|---|');
  FIGURES.forEach(([name], i) => {
    const base = median(sides.base.map((f) => f[i]));
    const head = median(sides.head.map((f) => f[i]));
    const show = (value) => (Number.isInteger(value) ? String(value) : value.toFixed(2));
    console.log(`| ${name} | ${show(base)} | ${show(head)} | ${(head / base).toFixed(2)} |`);
  });
} finally {
  git('worktree', 'remove', '--force', worktree);
}
