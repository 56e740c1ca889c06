/** Serves the built renderer: files under one folder only, index.html for app routes. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

export interface StaticFile {
  body: Buffer;
  contentType: string;
  isIndex: boolean;
}

/** Returns the file for a URL path, or undefined when there is none (or it lies outside `root`). */
export async function readStatic(root: string, urlPath: string): Promise<StaticFile | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  const wantsIndex = decoded === '/' || !path.extname(decoded);
  const relative = wantsIndex ? 'index.html' : decoded.replace(/^\/+/, '');
  const file = path.resolve(root, relative);
  if (file !== root && !file.startsWith(root + path.sep)) return undefined;
  try {
    const body = await readFile(file);
    const contentType = contentTypes[path.extname(file)] ?? 'application/octet-stream';
    return { body, contentType, isIndex: wantsIndex };
  } catch {
    return undefined;
  }
}
