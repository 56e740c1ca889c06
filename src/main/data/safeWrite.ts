/**
 * Writing where the user said without ever losing a file: whole files through a temporary name
 * and a rename, whole folders staged beside their target and renamed into place, what a killed
 * write left behind cleared on the next write, and targets that would replace something (a file
 * of the user's, the workspace's own files) refused unless the user said so, or at all.
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { UserError } from '../../shared/errors';

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
export function writeFileAtomic(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  clearLeftovers(path.dirname(file), (name) => name === path.basename(file));
  const temporary = `${file}.tmp-${process.pid}`;
  writeFileSync(temporary, content);
  renameSync(temporary, file);
}

/**
 * The names vrft's writes use beside their target while they work: `<target>.tmp-<pid>` (a file
 * being written), `<target>.partial-<pid>` (a folder being filled) and `<target>.old-<pid>` (the
 * folder it replaces, set aside until the new one is in place).
 */
const leftoverName = /^(.+)\.(tmp|partial|old)-([1-9]\d{0,9})$/;

/** Whether process `pid` is running: a process of another user (EPERM) is. */
export function isLive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes from `dir` what writes killed mid-way (kill -9, a crash) left beside the targets
 * `isTarget` accepts: names of exactly the pattern above whose process is gone, nothing else. A
 * target that is missing while an `.old-` of it remains was being replaced when the kill came
 * between the replace's two renames: that folder is the target as it was, and is put back.
 */
export function clearLeftovers(dir: string, isTarget: (name: string) => boolean): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // no folder, no leftovers
  }
  const stale = names.flatMap((name) => {
    const match = leftoverName.exec(name);
    if (!match || !isTarget(match[1]!)) return [];
    const pid = Number(match[3]);
    return pid === process.pid || isLive(pid) ? [] : [{ name, target: match[1]!, kind: match[2]! }];
  });
  for (const leftover of stale.filter((l) => l.kind === 'old')) {
    const target = path.join(dir, leftover.target);
    if (!existsSync(target) && !isLink(target)) renameSync(path.join(dir, leftover.name), target);
  }
  for (const leftover of stale) rmSync(path.join(dir, leftover.name), { recursive: true, force: true });
}

/** Where `file` is once links are followed, whether or not that exists. */
function landsAt(file: string): string {
  for (let hops = 0; hops < 40 && isLink(file); hops++)
    file = path.resolve(path.dirname(file), readlinkSync(file));
  return file;
}

function isLink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/** A folder being written: filled at `dir`, then put in place as a whole, or discarded. */
export interface StagedFolder {
  dir: string;
  /** Puts the folder at its target, replacing what is there. */
  commit(): void;
  /** Removes it, leaving the target as it was. */
  discard(): void;
}

/**
 * A folder that appears whole or not at all, whenever the writer is killed: it is filled at
 * `<out>.partial-<pid>` beside `out`, then renamed into place. A folder already at `out` is
 * renamed aside to `<out>.old-<pid>` first and removed once the new one is in place, so a kill
 * leaves the old folder or the whole new one; a kill between those two renames (a few
 * microseconds) leaves `out` missing and the old folder whole beside it, and the next write to
 * `out` puts it back before anything else. `check` refuses an `out` it must not replace; it runs
 * after leftovers of earlier writes are cleared and before anything is made.
 */
export function stageFolder(out: string, check: (out: string) => void): StagedFolder {
  // A link to a folder keeps pointing at the export: the folder it names is the one replaced.
  const target = landsAt(path.resolve(out));
  clearLeftovers(path.dirname(target), (name) => name === path.basename(target));
  check(out);
  mkdirSync(path.dirname(target), { recursive: true });
  const dir = `${target}.partial-${process.pid}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  return {
    dir,
    commit() {
      if (!existsSync(target)) {
        renameSync(dir, target);
        return;
      }
      const old = `${target}.old-${process.pid}`;
      renameSync(target, old);
      try {
        renameSync(dir, target);
      } catch (error) {
        renameSync(old, target);
        throw error;
      }
      rmSync(old, { recursive: true, force: true });
    },
    discard() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Fills a new folder at `out` through stageFolder: `fill` writes into the folder it is given and
 * returns the files it wrote there, which come back as they are once in place.
 */
export function writeFolder(
  out: string,
  check: (out: string) => void,
  fill: (dir: string) => string[],
): string[] {
  const staged = stageFolder(out, check);
  let files: string[];
  try {
    files = fill(staged.dir);
    staged.commit();
  } catch (error) {
    staged.discard();
    throw error;
  }
  return files.map((file) => path.join(out, path.relative(staged.dir, file)));
}

/**
 * What vrft keeps in a workspace folder: its database (and WAL, backups, lock), runs, thumbnails,
 * the images a Hugging Face import wrote out, and the datasets an experiment synthesised.
 */
const workspaceOwn = /^(vrft\.(sqlite|lock)|runs$|thumbnails$|imported$|datasets$)/;

/**
 * Refuses an export target that is one of the workspace's own files or under its folders (`--out
 * WS/vrft.sqlite --force` replaced the database; `WS/runs/3` a run's checkpoints). The rest of the
 * workspace folder is the user's to write in. Links are followed, so another name for the same
 * file is caught too.
 */
export function refuseWorkspaceFiles(out: string, workspaceFile: string): void {
  if (workspaceFile === '' || workspaceFile === ':memory:') return;
  // The real path of what exists of it, with the rest as given.
  const real = (p: string): string => {
    let at = path.resolve(p);
    const rest: string[] = [];
    while (!existsSync(at) && at !== path.dirname(at)) {
      rest.unshift(path.basename(at));
      at = path.dirname(at);
    }
    return path.join(realpathSync(at), ...rest);
  };
  const workspace = real(path.dirname(workspaceFile));
  const inside = path.relative(workspace, real(out));
  if (inside === '' || inside.startsWith('..') || path.isAbsolute(inside)) return;
  const first = inside.split(path.sep)[0]!;
  if (workspaceOwn.test(first))
    throw new UserError(
      'invalid_input',
      `${out} is the workspace's own ${first} (in ${workspace}): an export there would replace what vrft ` +
        'keeps. Export somewhere else.',
    );
}

/** A folder that cannot be made because a file is in its way (`notes.txt/x.json`): say which. */
function refuseFileInTheWay(folder: string): void {
  for (let dir = folder; ; dir = path.dirname(dir)) {
    if (existsSync(dir)) {
      if (!statSync(dir).isDirectory())
        throw new UserError(
          'invalid_input',
          `${dir} is a file, not a folder: nothing can be written under it.`,
        );
      return;
    }
    if (dir === path.dirname(dir)) return;
  }
}

/**
 * Writes a dataset export of many files as a folder at `out` (see writeFolder): a new or empty
 * folder, or with `force` one that holds only files this export writes (`ownFile` says which):
 * it is replaced as a whole, so no file of an earlier export lingers. A folder holding anything
 * else (the images, a sub-folder) is refused even then: replacing it would delete them.
 */
export function exportFolder(
  out: string,
  options: { force?: boolean; ownFile: (name: string) => boolean },
  fill: (dir: string) => string[],
): string[] {
  return writeFolder(
    out,
    () => {
      refuseFileInTheWay(path.dirname(out));
      if (!existsSync(out)) return;
      if (!statSync(out).isDirectory()) {
        throw new UserError(
          'invalid_input',
          `${out} is a file: this format writes a folder; give a folder path.`,
        );
      }
      const entries = readdirSync(out, { withFileTypes: true });
      if (entries.length === 0) return;
      if (!options.force) {
        throw new UserError(
          'conflict',
          `${out} is not empty: export into a new or empty folder, or pass --force to replace it.`,
        );
      }
      const foreign = entries.find(
        (e) => !(e.isFile() && (options.ownFile(e.name) || e.name === '.DS_Store')),
      );
      if (foreign) {
        throw new UserError(
          'conflict',
          `${path.join(out, foreign.name)} is not a file this export writes, and --force replaces the ` +
            'whole folder: export into a new or empty folder, or move it out first.',
        );
      }
    },
    fill,
  );
}

/**
 * The file a one-file export goes to: `out` itself, or `defaultName` inside it when it is a
 * folder. A file already there is refused unless `force`: a mistyped path never costs a file.
 */
export function exportFile(out: string, defaultName: string, force = false): string {
  const file = existsSync(out) && statSync(out).isDirectory() ? path.join(out, defaultName) : out;
  refuseFileInTheWay(path.dirname(file));
  if (!force && existsSync(file)) {
    throw new UserError(
      'conflict',
      `${file} already exists: choose another name, or pass --force to replace it.`,
    );
  }
  return file;
}
