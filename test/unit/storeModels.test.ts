/**
 * The model folders a workspace remembers (store/models.ts, migration 4): one row per folder,
 * upserted with its kind, config and weights sha, when it was added and last used; older
 * workspaces with a folder added twice are merged onto its first row.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyMigrations, openStore, workspaceDbPath, type Db } from '../../src/main/store/db';
import { migrations } from '../../src/main/store/migrations';
import {
  addModel,
  getModel,
  getModelByPath,
  listModels,
  modelForPath,
  rememberModel,
} from '../../src/main/store/models';

let dir: string;
const opened: Db[] = [];
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'vrft-models-'));
});
afterEach(() => {
  for (const db of opened.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(): Db {
  const db = openStore(workspaceDbPath(path.join(dir, 'data')));
  opened.push(db);
  return db;
}

const qwen = '/models/Qwen2-VL-2B-Instruct';
const config = { family: 'qwen2-vl', text: { hiddenSize: 1536 } };

describe('rememberModel', () => {
  it('adds a folder the first time: absolute path, its name, kind, config, sha, added = last used', () => {
    const db = open();
    const model = rememberModel(db, { path: qwen, kind: 'qwen2-vl', config, weightsSha: 'abc', at: 1000 });
    expect(model).toEqual({
      id: model.id,
      name: 'Qwen2-VL-2B-Instruct',
      kind: 'qwen2-vl',
      path: qwen,
      config,
      weightsSha256: 'abc',
      createdAt: 1000,
      lastUsedAt: 1000,
    });
    expect(getModel(db, model.id)).toEqual(model);
    expect(getModelByPath(db, qwen)).toEqual(model);
  });

  it('afterwards updates the same row: last used, and the kind, config and sha given; keeps what is left out', () => {
    const db = open();
    const first = rememberModel(db, { path: qwen, kind: 'qwen2-vl', config, weightsSha: 'abc', at: 1000 });
    const again = rememberModel(db, { path: qwen, kind: 'qwen2-vl', at: 5000 });
    expect(again).toMatchObject({
      id: first.id,
      config,
      weightsSha256: 'abc',
      createdAt: 1000,
      lastUsedAt: 5000,
    });
    const changed = rememberModel(db, {
      path: qwen,
      kind: 'qwen2-vl',
      config: { family: 'qwen2-vl', changed: true },
      weightsSha: 'def',
      at: 6000,
    });
    expect(changed).toMatchObject({
      id: first.id,
      config: { changed: true },
      weightsSha256: 'def',
      lastUsedAt: 6000,
    });
    // An older timestamp (a slow process reporting late) never moves last-used back.
    expect(rememberModel(db, { path: qwen, kind: 'qwen2-vl', at: 10 }).lastUsedAt).toBe(6000);
    expect(rememberModel(db, { path: qwen, kind: 'qwen2-vl', weightsSha: null }).weightsSha256).toBeNull();
    expect(listModels(db)).toHaveLength(1);
  });

  it('one row per folder however the path is spelled; the name is kept unless given', () => {
    const db = open();
    const relative = path.relative(process.cwd(), path.join(dir, 'models', 'qwen'));
    const a = rememberModel(db, { path: relative, kind: 'qwen2.5-vl', name: 'my qwen' });
    const b = rememberModel(db, { path: path.join(dir, 'models', 'qwen', '.'), kind: 'qwen2.5-vl' });
    expect(b.id).toBe(a.id);
    expect(b.path).toBe(path.join(dir, 'models', 'qwen'));
    expect(b.name).toBe('my qwen');
  });

  it('listModels gives every folder, oldest first, with when each was last used', () => {
    const db = open();
    rememberModel(db, { path: '/m/a', kind: 'tiny-vlm', at: 1 });
    rememberModel(db, { path: '/m/b', kind: 'qwen2.5-vl', at: 2 });
    rememberModel(db, { path: '/m/a', kind: 'tiny-vlm', at: 3 });
    expect(listModels(db).map((m) => [m.path, m.kind, m.createdAt, m.lastUsedAt])).toEqual([
      ['/m/a', 'tiny-vlm', 1, 3],
      ['/m/b', 'qwen2.5-vl', 2, 2],
    ]);
  });

  it('modelForPath (runs) finds or adds the row and marks it used; addModel refuses a second row', () => {
    const db = open();
    const id = modelForPath(db, { name: 'tiny', kind: 'tiny-vlm', path: '/m/tiny' });
    expect(modelForPath(db, { name: 'tiny', kind: 'tiny-vlm', path: '/m/tiny' })).toBe(id);
    expect(() => addModel(db, { name: 'again', kind: 'tiny-vlm', path: '/m/tiny' })).toThrow(
      expect.objectContaining({
        code: 'conflict',
        message: "/m/tiny is already one of this workspace's models",
      }),
    );
    expect(listModels(db)).toHaveLength(1);
  });

  it('the kind is checked by the table', () => {
    const db = open();
    expect(() => rememberModel(db, { path: '/m/x', kind: 'llava' as 'tiny-vlm' })).toThrow(
      /CHECK constraint/,
    );
  });
});

describe('migration 4', () => {
  it('merges a folder added twice onto its first row, repointing runs, and makes path unique', () => {
    const db = new Database(path.join(dir, 'old.sqlite'));
    opened.push(db);
    applyMigrations(db, migrations.slice(0, 3));
    const insert = db.prepare('INSERT INTO model (name, kind, path, created_at) VALUES (?, ?, ?, ?)');
    const a1 = Number(insert.run('a', 'tiny-vlm', '/m/a', 100).lastInsertRowid);
    const b = Number(insert.run('b', 'qwen2-vl', '/m/b', 200).lastInsertRowid);
    const a2 = Number(insert.run('a again', 'tiny-vlm', '/m/a', 300).lastInsertRowid);
    const run = db.prepare("INSERT INTO run (kind, model_id, config) VALUES ('sft', ?, '{}')");
    const runs = [a1, b, a2].map((id) => Number(run.run(id).lastInsertRowid));

    applyMigrations(db, migrations);
    expect(listModels(db).map((m) => [m.id, m.path, m.createdAt, m.lastUsedAt])).toEqual([
      [a1, '/m/a', 100, 300],
      [b, '/m/b', 200, 200],
    ]);
    const modelOf = db.prepare('SELECT model_id AS id FROM run WHERE id = ?');
    expect(runs.map((id) => (modelOf.get(id) as { id: number }).id)).toEqual([a1, b, a1]);
    expect(() => insert.run('dup', 'tiny-vlm', '/m/b', 400)).toThrow(/UNIQUE constraint failed: model.path/);
  });
});
