import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { _electron } from 'playwright-core';
import { DatasetsPage } from './pages/DatasetsPage';

/** The Electron binary, if one is already on this machine (never downloads one). */
function electronBinary(): string | undefined {
  const dir = path.resolve('node_modules/electron');
  const pathFile = path.join(dir, 'path.txt');
  if (!existsSync(pathFile)) return undefined;
  const name = readFileSync(pathFile, 'utf8');
  const dist = process.env.ELECTRON_OVERRIDE_DIST_PATH ?? path.join(dir, 'dist');
  const binary = path.join(dist, name);
  return existsSync(binary) ? binary : undefined;
}

/** Processes whose command line mentions `needle` (Linux /proc). */
function processesMentioning(needle: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const binary = electronBinary();
if (!binary) console.log('skipped: no Electron binary');

describe.skipIf(!binary)('Electron shell', () => {
  it('opens a sandboxed window that works the contract through the bridge; closing it stops the host', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'vrft-electron-'));
    const app = await _electron.launch({
      executablePath: binary,
      args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '.'],
      env: { ...process.env, VRFT_DATA: dataDir },
    });
    try {
      const page = await app.firstWindow();
      const exposed = await page.evaluate(() => ({
        require: typeof (globalThis as { require?: unknown }).require,
        process: typeof (globalThis as { process?: unknown }).process,
        bridge: Object.keys((globalThis as { vrft?: object }).vrft ?? {}).sort(),
      }));
      expect(exposed).toEqual({
        require: 'undefined',
        process: 'undefined',
        bridge: ['calls', 'dialogs', 'events', 'onState'],
      });

      const datasets = new DatasetsPage(page);
      await datasets.shell.waitConnected();
      await datasets.create('from-electron');
      await datasets.row('from-electron').waitFor();
      expect(processesMentioning(dataDir).length).toBeGreaterThan(0);
    } finally {
      await app.close();
    }
    await expect.poll(() => processesMentioning(dataDir), { timeout: 10_000 }).toEqual([]);
    rmSync(dataDir, { recursive: true, force: true });
  });
});
