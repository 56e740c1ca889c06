/**
 * The thumbnail cache of a workspace: one small PNG per image content (`thumbnails/<sha256>.png`),
 * made after an import has committed, so a re-import reuses them and a failure here costs only
 * the thumbnails, never the import.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../../shared/errors';
import { makeThumbnail } from '../imageFiles';
import { clearLeftovers } from '../safeWrite';

/** What a thumbnail is made from: an imported image's file, content hash and size. */
export interface ThumbnailSource {
  path: string;
  sha256: string;
  width: number;
  height: number;
}

/** Files read and written at once. */
const batchSize = 32;

/** Larger images are left to the viewer: decoding one would take seconds and gigabytes. */
const maxThumbnailPixels = 40_000_000;

/**
 * Thumbnails of the imported images that have none yet (the cache is keyed by content, so a
 * re-import reuses them). A cancel here stops making them; the import itself has been committed.
 * An image without one is shown from its file: a PNG already within the thumbnail size needs none,
 * and a WebP gets none where its decoder cannot load.
 */
export async function cacheThumbnails(
  images: readonly ThumbnailSource[],
  dataDir: string,
  signal: AbortSignal | undefined,
  progress: (done: number, total: number) => void,
): Promise<string[]> {
  const dir = path.join(dataDir, 'thumbnails');
  mkdirSync(dir, { recursive: true });
  // What an import killed while writing thumbnails left: <sha256>.png.tmp-<pid>.
  clearLeftovers(dir, (name) => /^[0-9a-f]{64}\.png$/.test(name));
  const warnings: string[] = [];
  const wanted = images.filter(
    (image) =>
      image.width * image.height <= maxThumbnailPixels && !existsSync(thumbnailPath(dataDir, image.sha256)),
  );
  // A batch at a time, its files read and written in parallel: waiting on the disk one image at
  // a time costs more than making a small thumbnail.
  for (let start = 0; start < wanted.length; start += batchSize) {
    if (signal?.aborted) {
      warnings.push(
        `Thumbnails stopped after ${start} of ${wanted.length} (cancelled): the rest show at full size.`,
      );
      break;
    }
    const batch = wanted.slice(start, start + batchSize);
    const problems = await Promise.all(batch.map((image) => cacheThumbnail(dataDir, image)));
    for (const problem of problems) if (problem) warnings.push(problem);
    progress(start + batch.length, wanted.length);
    // A full disk fails every thumbnail after it: stop, and say so once.
    if (problems.some((p) => p?.includes('ENOSPC'))) {
      const full = warnings.filter((w) => w.includes('ENOSPC')).length;
      const rest = wanted.length - start - batch.length + full;
      return [
        ...warnings.filter((w) => !w.includes('ENOSPC')),
        `The disk holding ${dataDir} is full (ENOSPC): ${rest} of ${wanted.length} thumbnails were not ` +
          'written. The images are imported; they show at full size until thumbnails can be made.',
      ];
    }
  }
  return warnings;
}

/** Where the thumbnail of an image of this content is (or would be) in the workspace at `dataDir`. */
export function thumbnailPath(dataDir: string, sha256: string): string {
  return path.join(dataDir, 'thumbnails', `${sha256}.png`);
}

/** Makes one thumbnail; a problem is returned as a warning (WebP without its decoder is not one). */
async function cacheThumbnail(dataDir: string, image: ThumbnailSource): Promise<string | undefined> {
  const file = thumbnailPath(dataDir, image.sha256);
  const temporary = `${file}.tmp-${process.pid}`;
  try {
    const bytes = await readFile(image.path);
    const thumbnail = makeThumbnail(bytes);
    if (thumbnail === bytes) return undefined; // a small PNG: the viewer shows the file itself
    await writeFile(temporary, thumbnail);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    if (error instanceof UserError && error.code === 'unavailable') return undefined;
    return `${image.path}: no thumbnail (${(error as Error).message})`;
  }
  return undefined;
}
