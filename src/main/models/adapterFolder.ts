/**
 * A PEFT adapter folder (adapter_config.json + adapter_model.safetensors) names the model it was
 * trained on in `base_model_name_or_path`. PEFT reads a relative path from the working directory;
 * vrft tries the adapter's own folder first, so a folder moved with its base still loads.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../shared/errors';
import { parseJsonFile } from '../data/jsonErrors';

export interface AdapterFolder {
  /** The base model's folder (holds config.json). */
  base: string;
  /** adapter_config.json as written. */
  json: Record<string, unknown>;
}

/** The adapter folder `dir` holds, or null when it has no adapter_config.json. */
export function readAdapterFolder(dir: string): AdapterFolder | null {
  const file = path.join(dir, 'adapter_config.json');
  if (!existsSync(file)) return null;
  const json = parseJsonFile(file) as Record<string, unknown>;
  const named = json.base_model_name_or_path;
  const base =
    typeof named !== 'string'
      ? undefined
      : [path.resolve(dir, named), path.resolve(named)].find((d) => existsSync(path.join(d, 'config.json')));
  if (base === undefined)
    throw new UserError(
      'invalid_input',
      `${file}: base_model_name_or_path ${JSON.stringify(named ?? null)} is not a model folder here; ` +
        'point it at the local folder of the model these adapters were trained on',
    );
  return { base, json };
}
