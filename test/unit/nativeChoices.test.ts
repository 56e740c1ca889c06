/**
 * A run keeps the native kernels' load-time choices beside it, and its resumed trainer takes them
 * back, so a busy machine's different timing cannot change which kernels compute the resumed steps.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine, keepNativeChoices, nativeStatus } from '../../src/main/engine';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vrft-native-choices-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await initEngine({ force: 'wasm' });
});

describe.runIf(nativeStatus().loaded)('keepNativeChoices', () => {
  it('writes a new run’s choices, and a resumed run takes the kept ones back', () => {
    const file = path.join(dir, 'run', 'native.json');
    keepNativeChoices(file, false);
    const own = nativeStatus().classes!;
    const kept = JSON.parse(readFileSync(file, 'utf8')) as { isa: string; classes: typeof own };
    expect(kept).toEqual({ isa: nativeStatus().isa, classes: own });
    // The first run chose otherwise for every class: the resumed one follows it.
    const flipped = Object.fromEntries(
      Object.entries(own).map(([work, c]) => [work, { native: !c!.native, ratio: c!.ratio }]),
    );
    writeFileSync(file, JSON.stringify({ isa: kept.isa, classes: flipped }));
    keepNativeChoices(file, true);
    expect(nativeStatus().classes).toEqual(flipped);
    // Another instruction set's choices are not taken: this process's stand, and are kept.
    writeFileSync(file, JSON.stringify({ isa: 'elsewhere', classes: own }));
    keepNativeChoices(file, true);
    expect(nativeStatus().classes).toEqual(flipped);
    expect(JSON.parse(readFileSync(file, 'utf8')).isa).toBe(nativeStatus().isa);
  });
});
