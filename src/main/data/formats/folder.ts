/** A folder of images and nothing else: every .jpg, .jpeg, .png and .webp under it, no boxes. */
import path from 'node:path';
import { UserError } from '../../../shared/errors';
import { isImageFile, listFiles } from './files';
import type { DatasetFormat } from './types';

export const folderFormat: DatasetFormat = {
  async read(dir) {
    const images = listFiles(dir, isImageFile).map((file) => ({
      path: file,
      where: path.relative(dir, file),
      boxes: [],
      // Not looked at yet: these are unlabelled images, not negatives.
      statedEmpty: false,
    }));
    if (images.length === 0) {
      throw new UserError(
        'invalid_input',
        `${dir} holds no .jpg, .jpeg, .png or .webp files (sub-folders included): pick the folder with the images.`,
      );
    }
    return { categories: [], images, missing: [], warnings: [] };
  },
};
