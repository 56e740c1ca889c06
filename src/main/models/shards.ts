/**
 * Sharded safetensors checkpoints: `model.safetensors.index.json` (a weight_map naming each
 * tensor's shard) and the shards it names, read one after the other.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readSafetensorsFile, type ReadOptions, type TensorMap } from './safetensors';
import { parseJsonFile } from '../data/jsonErrors';

export interface ShardIndex {
  file: string;
  /** tensor name → shard file name (relative to the index's folder). */
  weightMap: Record<string, string>;
  /** The shard files, absolute, sorted by name. */
  shards: string[];
}

/** `model.safetensors.index.json`: its weight_map, and every shard it names present. */
export function readShardIndex(indexFile: string): ShardIndex {
  const json = parseJsonFile(indexFile);
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map))
    throw new Error(`${indexFile}: has no weight_map (tensor name → shard file)`);
  const weightMap = map as Record<string, unknown>;
  const dir = path.dirname(indexFile);
  const names = new Set<string>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || !shard || path.basename(shard) !== shard)
      throw new Error(
        `${indexFile}: ${tensor}'s shard ${JSON.stringify(shard)} is not a file name in this folder`,
      );
    names.add(shard);
  }
  if (!names.size) throw new Error(`${indexFile}: the weight_map is empty`);
  const shards = [...names].sort().map((name) => path.join(dir, name));
  const missing = shards.filter((f) => !existsSync(f));
  if (missing.length)
    throw new Error(
      `${indexFile} names ${missing.map((f) => path.basename(f)).join(', ')}, which ` +
        `${missing.length > 1 ? 'are' : 'is'} not in ${dir} (an interrupted download?)`,
    );
  return { file: indexFile, weightMap: weightMap as Record<string, string>, shards };
}

/**
 * The tensors of every shard an index names, shard by shard in name order (`hash` then digests the
 * shards one after the other). A tensor the index places in a shard must be there; no tensor may be
 * in two shards.
 */
export function readShardedSafetensors(indexFile: string, options: ReadOptions = {}): TensorMap {
  const index = readShardIndex(indexFile);
  const tensors: TensorMap = new Map();
  const shardOf = new Map<string, string>();
  for (const shard of index.shards) {
    for (const [name, t] of readSafetensorsFile(shard, options)) {
      if (tensors.has(name)) throw new Error(`${shard}: ${name} is in ${shardOf.get(name)} too`);
      tensors.set(name, t);
      shardOf.set(name, path.basename(shard));
    }
  }
  for (const [name, shard] of Object.entries(index.weightMap)) {
    if (options.wanted && !options.wanted(name)) continue;
    if (shardOf.get(name) !== shard)
      throw new Error(
        `${indexFile}: ${name} should be in ${shard}, but ${shard} has no such tensor` +
          (shardOf.has(name) ? ` (it is in ${shardOf.get(name)})` : ''),
      );
  }
  return tensors;
}
