/**
 * Writes that a kill cannot leave half-done (issue 26): a folder is filled beside its target and
 * renamed into place, and what a killed writer left (`<target>.tmp-<pid>`, `.partial-<pid>`,
 * `.old-<pid>`) is cleared by the next write, and nothing else is.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  clearLeftovers,
  exportFolder,
  isLive,
  stageFolder,
  writeFileAtomic,
} from '../../src/main/data/safeWrite';

const root = mkdtempSync(path.join(os.tmpdir(), 'vrft-staged-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let made = 0;
const fresh = () => {
  const dir = path.join(root, `case-${made++}`);
  mkdirSync(dir);
  return dir;
};

/** The id of a process that has exited. */
const deadPid = spawnSync(process.execPath, ['-e', '']).pid!;
/** A process that is running: the one that started this test. */
const livePid = process.ppid;

const put = (file: string, text = 'x') => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
};
const refuseNothing = () => {};

describe('leftovers of a killed write', () => {
  it('knows a live process from one that has exited', () => {
    expect(isLive(process.pid)).toBe(true);
    expect(isLive(livePid)).toBe(true);
    expect(isLive(deadPid)).toBe(false);
  });

  it('removes only names of its own pattern, for its targets, whose process is gone', () => {
    const dir = fresh();
    const keep = [
      'out.json', // the target itself
      `out.json.tmp-${livePid}`, // a writer still at work
      `out.json.tmp-${process.pid}`, // this process's own
      `other.json.tmp-${deadPid}`, // another target's
      `out.json.tmp-${deadPid}x`, // not the pattern
      `out.json.tmp-0`,
      `out.json.temp-${deadPid}`,
      `out.json.tmp${deadPid}`,
      'notes.txt',
    ];
    for (const name of keep) put(path.join(dir, name));
    put(path.join(dir, `out.json.tmp-${deadPid}`));
    put(path.join(dir, `out.json.partial-${deadPid}`, 'a.txt'));
    clearLeftovers(dir, (name) => name === 'out.json');
    expect(readdirSync(dir).sort()).toEqual([...keep].sort());
  });

  it('puts back a folder a kill left set aside with nothing in its place, and drops the unfinished one', () => {
    const dir = fresh();
    put(path.join(dir, `out.old-${deadPid}`, 'mine.txt'), 'old');
    put(path.join(dir, `out.partial-${deadPid}`, 'new.txt'), 'new');
    clearLeftovers(dir, (name) => name === 'out');
    expect(readdirSync(dir)).toEqual(['out']);
    expect(readFileSync(path.join(dir, 'out', 'mine.txt'), 'utf8')).toBe('old');
  });

  it('drops a set-aside folder once the new one is in place', () => {
    const dir = fresh();
    put(path.join(dir, 'out', 'new.txt'), 'new');
    put(path.join(dir, `out.old-${deadPid}`, 'mine.txt'), 'old');
    clearLeftovers(dir, (name) => name === 'out');
    expect(readdirSync(dir)).toEqual(['out']);
    expect(readdirSync(path.join(dir, 'out'))).toEqual(['new.txt']);
  });

  it('a file write clears its own target’s leftovers', () => {
    const dir = fresh();
    const file = path.join(dir, 'a.json');
    put(`${file}.tmp-${deadPid}`);
    put(path.join(dir, `b.json.tmp-${deadPid}`));
    writeFileAtomic(file, '{}');
    expect(readdirSync(dir).sort()).toEqual(['a.json', `b.json.tmp-${deadPid}`]);
  });
});

describe('a staged folder', () => {
  it('is filled beside its target and appears whole on commit', () => {
    const dir = fresh();
    const out = path.join(dir, 'sub', 'out');
    const staged = stageFolder(out, refuseNothing);
    expect(staged.dir).toBe(`${out}.partial-${process.pid}`);
    put(path.join(staged.dir, 'a.txt'));
    expect(existsSync(out)).toBe(false);
    staged.commit();
    expect(readdirSync(path.dirname(out))).toEqual(['out']);
    expect(readdirSync(out)).toEqual(['a.txt']);
  });

  it('replaces a folder as a whole, and a discard leaves it as it was', () => {
    const dir = fresh();
    const out = path.join(dir, 'out');
    put(path.join(out, 'old.txt'));
    const discarded = stageFolder(out, refuseNothing);
    put(path.join(discarded.dir, 'new.txt'));
    discarded.discard();
    expect(readdirSync(dir)).toEqual(['out']);
    expect(readdirSync(out)).toEqual(['old.txt']);
    const staged = stageFolder(out, refuseNothing);
    put(path.join(staged.dir, 'new.txt'));
    staged.commit();
    expect(readdirSync(dir)).toEqual(['out']);
    expect(readdirSync(out)).toEqual(['new.txt']);
  });

  it('replaces the folder a link names, and the link stays', () => {
    const dir = fresh();
    put(path.join(dir, 'real', 'old.txt'));
    symlinkSync(path.join(dir, 'real'), path.join(dir, 'link'));
    const staged = stageFolder(path.join(dir, 'link'), refuseNothing);
    put(path.join(staged.dir, 'new.txt'));
    staged.commit();
    expect(readdirSync(dir).sort()).toEqual(['link', 'real']);
    expect(readdirSync(path.join(dir, 'link'))).toEqual(['new.txt']);
  });

  it('is checked after leftovers are cleared: a folder put back is refused as the user’s', () => {
    const dir = fresh();
    const out = path.join(dir, 'out');
    put(path.join(dir, `out.old-${deadPid}`, 'mine.txt'));
    const seen: string[][] = [];
    stageFolder(out, () => seen.push(readdirSync(out))).discard();
    expect(seen).toEqual([['mine.txt']]);
  });
});

describe('a dataset export folder with --force', () => {
  const ownFile = (name: string) => name.endsWith('.txt');
  const fill = (dir: string) => {
    put(path.join(dir, 'a.txt'), 'new');
    return [path.join(dir, 'a.txt')];
  };

  it('replaces an earlier export, and returns the files where they end up', () => {
    const dir = fresh();
    const out = path.join(dir, 'out');
    put(path.join(out, 'stale.txt'));
    expect(() => exportFolder(out, { ownFile }, fill)).toThrow(/out is not empty: .*--force to replace it/);
    expect(exportFolder(out, { force: true, ownFile }, fill)).toEqual([path.join(out, 'a.txt')]);
    expect(readdirSync(out)).toEqual(['a.txt']);
  });

  it('refuses a folder holding anything else: replacing it would delete that', () => {
    const dir = fresh();
    const out = path.join(dir, 'out');
    put(path.join(out, 'photo.jpg'));
    expect(() => exportFolder(out, { force: true, ownFile }, fill)).toThrow(
      /photo\.jpg is not a file this export writes/,
    );
    put(path.join(dir, 'other', 'deep', 'a.txt'));
    expect(() => exportFolder(path.join(dir, 'other'), { force: true, ownFile }, fill)).toThrow(
      /deep is not a file this export writes/,
    );
    expect(readdirSync(dir).sort()).toEqual(['other', 'out']);
    expect(readdirSync(out)).toEqual(['photo.jpg']);
  });
});
