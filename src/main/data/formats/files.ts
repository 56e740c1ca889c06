/** File helpers every format shares: finding images, naming label files, refusing bad input. */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { Box } from '../../../shared/boxes';
import { UserError } from '../../../shared/errors';
import { imageExtensions } from '../imageFiles';
import { jsonProblem, locateJsonError } from '../jsonErrors';
import type { SourceImage } from './types';

/**
 * Refuses a malformed annotation file: which file, where in it (line, item or field) and what is
 * wrong. Nothing has been written when this is thrown.
 */
export function refuse(file: string, where: string, problem: string): never {
  // One line, whatever the problem quotes from the file: the CLI prints it as a single line.
  const text = problem.replace(/\s*\n\s*/g, ' ');
  throw new UserError(
    'invalid_input',
    `${file}${where ? `, ${where}` : ''}: ${text}. Nothing was imported: fix the file and import again.`,
  );
}

export function isImageFile(file: string): boolean {
  return imageExtensions.includes(path.extname(file).toLowerCase());
}

/**
 * Every file under `dir` (hidden files and folders left out) whose name passes `keep`, absolute,
 * sorted by relative path compared code unit by code unit: the same order on every platform and
 * every run, whatever order the file system lists them in.
 */
export function listFiles(dir: string, keep: (name: string) => boolean): string[] {
  const found: string[] = [];
  const walk = (sub: string) => {
    for (const entry of readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (keep(entry.name)) found.push(rel);
    }
  };
  walk('');
  return found.sort(compareCodeUnits).map((rel) => path.join(dir, ...rel.split('/')));
}

export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A file stem per image for formats that write one file per image (YOLO labels, VOC XML): the
 * image's own stem, with _2, _3… added when two images share one (compared ignoring case, as
 * Windows and macOS file systems do). Deterministic in the order given, so the YOLO reader can
 * pair an images.txt written by the exporter with its label files.
 */
export function uniqueStems(paths: readonly string[]): string[] {
  const taken = new Set<string>();
  return paths.map((p) => {
    const stem = path.basename(p, path.extname(p));
    let name = stem;
    for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${stem}_${n}`;
    taken.add(name.toLowerCase());
    return name;
  });
}

export function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first candidate that is a file, or undefined. */
export function firstFile(candidates: readonly string[]): string | undefined {
  return candidates.find(isFile);
}

/**
 * Why `file` cannot be read as a file, or undefined when it can: reading a named pipe, a socket or
 * a device blocks forever (or reads without end), so every user file is checked first.
 */
export function notARegularFile(file: string): string | undefined {
  let stats;
  try {
    stats = statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return 'is a symbolic link that loops back on itself';
    return code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? (error as Error).message})`;
  }
  if (stats.isFile()) return undefined;
  const kind = stats.isDirectory()
    ? 'a folder'
    : stats.isFIFO()
      ? 'a named pipe'
      : stats.isSocket()
        ? 'a socket'
        : stats.isCharacterDevice() || stats.isBlockDevice()
          ? 'a device'
          : 'not a regular file';
  return `is ${kind}, not a file`;
}

export function readText(file: string): string {
  const problem = notARegularFile(file);
  if (problem && problem !== 'no such file') {
    throw new UserError('invalid_input', `${file} ${problem}: name the annotation file itself.`);
  }
  try {
    return readFileSync(file, 'utf8').replace(/^\uFEFF/, ''); // a byte-order mark is not content
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT' ? 'not_found' : 'invalid_input',
      `${file}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}. Check the path and import again.`,
    );
  }
}

/** Parses a JSON annotation file; a syntax error names its line and column. */
export function readJsonFile(file: string): unknown {
  const text = readText(file);
  try {
    return JSON.parse(text);
  } catch (error) {
    return refuse(file, ...jsonSyntaxError(text, error));
  }
}

/**
 * Where and what a JSON syntax error is, as `refuse` takes them: "line 3, column 9" and
 * "not valid JSON (…)". NaN and Infinity are what Python's json.dump writes, not JSON: said so.
 */
export function jsonSyntaxError(text: string, error: unknown): [where: string, problem: string] {
  if (text.trim() === '') return ['', 'not valid JSON (the file is empty)'];
  const at = locateJsonError(text, error);
  const bare = /(?<![\w"])(-?Infinity|NaN)(?![\w"])/.exec(text);
  const hint = bare ? `; ${bare[1]} is not JSON: write a number, or null` : '';
  const problem = at?.problem ?? jsonProblem(error instanceof Error ? error.message : String(error));
  return [at ? `line ${at.line}, column ${at.column}` : '', `not valid JSON (${problem}${hint})`];
}

/**
 * Undoes the float noise of a boundary conversion (x + w, xmin − 1): 15 significant digits are
 * all a double holds reliably, and the noise sits in the 16th and 17th, so a box written and read
 * back comes back as the same numbers.
 */
export function tidy(value: number): number {
  return Number(value.toPrecision(15));
}

export function tidyBox(b: Box): Box {
  return { x1: tidy(b.x1), y1: tidy(b.y1), x2: tidy(b.x2), y2: tidy(b.y2) };
}

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

/** What vrft keeps in a workspace folder: its database (and WAL, backups, lock), runs, thumbnails. */
const workspaceOwn = /^(vrft\.(sqlite|lock)|runs$|thumbnails$|datasets$)/;

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

/**
 * Where an image an annotation file names may be: as written if absolute, else in the image root
 * the user named, beside the file, or in its images/.
 */
export function imageCandidates(dir: string, name: string, root?: string): string[] {
  if (path.isAbsolute(name)) return [name];
  const own = [path.join(dir, name), path.join(dir, 'images', name)];
  return root === undefined ? own : [path.join(root, name), ...own];
}

/**
 * The images of formats that name an image once per record (a Visual-RFT record per category, a
 * VLM-R1 line per question): one SourceImage per file, in order of first mention. A relative name
 * is looked for beside the data file (and in its images/) first, then in the working directory,
 * where these files are often written to be read from (a training script's `image_root`); the
 * latter is reported as a warning, since the same file read from elsewhere would find nothing.
 */
export class ImagesByPath {
  private readonly images = new Map<string, SourceImage>();
  private readonly notFound = new Map<string, { path: string; reason: string }>();
  /** Each name looked up on disk once, however many records repeat it. */
  private readonly resolved = new Map<string, string | undefined>();
  private readonly fromWorkingDir: { name: string; where: string }[] = [];

  constructor(
    private readonly dir: string,
    private readonly root?: string,
    private readonly workingDir = process.cwd(),
  ) {}

  /** The image a record names, or undefined (and listed as missing) when it is not on disk. */
  get(name: string, where: string): SourceImage | undefined {
    const candidates = imageCandidates(this.dir, name, this.root);
    if (!this.resolved.has(name)) this.resolved.set(name, this.find(name, candidates, where));
    const file = this.resolved.get(name);
    if (!file) {
      if (!this.notFound.has(candidates[0]!)) {
        this.notFound.set(candidates[0]!, { path: candidates[0]!, reason: `not found (${where})` });
      }
      return undefined;
    }
    let image = this.images.get(file);
    if (!image) {
      image = { path: file, where, boxes: [], statedEmpty: true };
      this.images.set(file, image);
    }
    return image;
  }

  private find(name: string, candidates: string[], where: string): string | undefined {
    const beside = firstFile(candidates);
    if (beside || path.isAbsolute(name)) return beside;
    const inWorkingDir = firstFile([path.resolve(this.workingDir, name)]);
    if (inWorkingDir) this.fromWorkingDir.push({ name, where });
    return inWorkingDir;
  }

  list(): SourceImage[] {
    return [...this.images.values()];
  }

  missing(): { path: string; reason: string }[] {
    return [...this.notFound.values()];
  }

  /** What the import report should say about where images were found. */
  warnings(): string[] {
    const found = this.fromWorkingDir;
    if (found.length === 0) return [];
    const first = `${found[0]!.name} (${found[0]!.where})`;
    const which = found.length === 1 ? 'an image path was' : `${found.length} image paths were`;
    return [
      `${which} not found beside the data file in ${this.dir}; read relative to the working directory ` +
        `${path.resolve(this.workingDir)} instead: ${first}${found.length === 1 ? '' : ` and ${found.length - 1} more`}`,
    ];
  }
}
