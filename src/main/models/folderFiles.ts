/**
 * A model folder holds files and folders only. A named pipe, a socket or a device where
 * config.json, a tokenizer or a weights shard should be would block the read that meets it (a
 * pipe with no writer never answers), so the whole folder is looked at once before any of it is
 * read, and the odd entry is named.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../shared/errors';
import { oddFile } from '../data/formats/files';

export function refuseOddFiles(dir: string): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // Not a readable folder: what reads it next says so.
  }
  for (const entry of entries) {
    if (entry.isFile() || entry.isDirectory()) continue;
    const file = path.join(dir, entry.name);
    // A link is followed: to a file or folder it is fine; to a pipe, or looping, it is not.
    const problem = oddFile(file);
    if (problem === undefined || problem === 'is a folder, not a file') continue;
    throw new UserError(
      'invalid_input',
      `${file} ${problem}: a model folder holds files only (config.json, weights, tokenizer). ` +
        'Replace it with the file, or name another folder.',
    );
  }
}
