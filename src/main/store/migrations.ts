/**
 * The workspace schema, one numbered step at a time. A released migration is never edited: change
 * the schema by appending the next one. db.ts runs the pending ones in a single transaction.
 *
 * Conventions: STRICT tables (a string never lands in a REAL column); ids are INTEGER PRIMARY KEY;
 * times are unix milliseconds; JSON is TEXT checked with json_valid and parsed by the repository;
 * boxes are original-image pixels, xyxy. A child row cascades with its parent; a reference that is
 * only provenance (a run's split or model, an evaluation's split) becomes NULL instead.
 * Foreign keys that lead a UNIQUE or PRIMARY KEY constraint already have an index, so they get no
 * separate one.
 */

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const now = "(CAST(unixepoch('subsec') * 1000 AS INTEGER))";

const initial = /* sql */ `
CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT;

CREATE TABLE dataset (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
  description TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL DEFAULT ${now},
  updated_at INTEGER NOT NULL DEFAULT ${now}
) STRICT;

CREATE TABLE category (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES dataset(id) ON DELETE CASCADE,
  name TEXT NOT NULL CHECK (length(trim(name)) > 0),
  ord INTEGER NOT NULL,
  color TEXT,
  UNIQUE (dataset_id, name),
  UNIQUE (dataset_id, ord)
) STRICT;

CREATE TABLE image (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES dataset(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  width INTEGER NOT NULL CHECK (width > 0),
  height INTEGER NOT NULL CHECK (height > 0),
  verified INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
  negative INTEGER NOT NULL DEFAULT 0 CHECK (negative IN (0, 1)),
  created_at INTEGER NOT NULL DEFAULT ${now},
  UNIQUE (dataset_id, sha256)
) STRICT;

CREATE TABLE annotation (
  id INTEGER PRIMARY KEY,
  image_id INTEGER NOT NULL REFERENCES image(id) ON DELETE CASCADE,
  category_id INTEGER NOT NULL REFERENCES category(id) ON DELETE CASCADE,
  x1 REAL NOT NULL,
  y1 REAL NOT NULL,
  x2 REAL NOT NULL,
  y2 REAL NOT NULL,
  source TEXT NOT NULL DEFAULT 'human' CHECK (source IN ('human', 'model')),
  created_at INTEGER NOT NULL DEFAULT ${now},
  updated_at INTEGER NOT NULL DEFAULT ${now},
  CHECK (x2 > x1 AND y2 > y1)
) STRICT;
CREATE INDEX annotation_image ON annotation (image_id);
CREATE INDEX annotation_category ON annotation (category_id);

CREATE TABLE split (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES dataset(id) ON DELETE CASCADE,
  name TEXT NOT NULL CHECK (length(trim(name)) > 0),
  kind TEXT NOT NULL CHECK (kind IN ('train', 'eval')),
  k INTEGER CHECK (k IS NULL OR k > 0),
  seed INTEGER,
  spec TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(spec)),
  created_at INTEGER NOT NULL DEFAULT ${now},
  UNIQUE (dataset_id, name)
) STRICT;

CREATE TABLE split_image (
  split_id INTEGER NOT NULL REFERENCES split(id) ON DELETE CASCADE,
  image_id INTEGER NOT NULL REFERENCES image(id) ON DELETE CASCADE,
  PRIMARY KEY (split_id, image_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX split_image_image ON split_image (image_id);

CREATE TABLE model (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('tiny-vlm', 'qwen2-vl', 'qwen2.5-vl')),
  path TEXT NOT NULL,
  config TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config)),
  weights_sha256 TEXT,
  created_at INTEGER NOT NULL DEFAULT ${now}
) STRICT;

CREATE TABLE run (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('sft', 'grpo', 'eval')),
  dataset_id INTEGER REFERENCES dataset(id) ON DELETE CASCADE,
  split_id INTEGER REFERENCES split(id) ON DELETE SET NULL,
  model_id INTEGER REFERENCES model(id) ON DELETE SET NULL,
  parent_run_id INTEGER REFERENCES run(id) ON DELETE SET NULL,
  config TEXT NOT NULL CHECK (json_valid(config)),
  seed INTEGER,
  status TEXT NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'running', 'paused', 'completed', 'failed', 'cancelled')),
  error TEXT,
  created_at INTEGER NOT NULL DEFAULT ${now},
  started_at INTEGER,
  finished_at INTEGER
) STRICT;
CREATE INDEX run_dataset ON run (dataset_id);
CREATE INDEX run_split ON run (split_id);
CREATE INDEX run_model ON run (model_id);
CREATE INDEX run_parent ON run (parent_run_id);

-- value is NULL when the metric was NaN (a diverged loss is worth keeping; SQLite has no NaN).
CREATE TABLE metric (
  run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  step INTEGER NOT NULL CHECK (step >= 0),
  key TEXT NOT NULL CHECK (length(key) > 0),
  value REAL,
  PRIMARY KEY (run_id, key, step)
) STRICT, WITHOUT ROWID;
CREATE INDEX metric_run_step ON metric (run_id, step);

CREATE TABLE checkpoint (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  step INTEGER NOT NULL CHECK (step >= 0),
  path TEXT NOT NULL,
  created_at INTEGER NOT NULL DEFAULT ${now},
  UNIQUE (run_id, step)
) STRICT;

CREATE TABLE rollout (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  step INTEGER NOT NULL CHECK (step >= 0),
  prompt_key TEXT NOT NULL,
  image_id INTEGER REFERENCES image(id) ON DELETE SET NULL,
  sample_index INTEGER NOT NULL CHECK (sample_index >= 0),
  prompt TEXT NOT NULL,
  completion TEXT NOT NULL,
  tokens INTEGER NOT NULL CHECK (tokens >= 0),
  truncated INTEGER NOT NULL DEFAULT 0 CHECK (truncated IN (0, 1)),
  rewards TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(rewards)),
  reward REAL NOT NULL,
  advantage REAL NOT NULL,
  parsed TEXT CHECK (parsed IS NULL OR json_valid(parsed)),
  mean_logprob REAL
) STRICT;
CREATE INDEX rollout_run_step ON rollout (run_id, step, prompt_key);
CREATE INDEX rollout_image ON rollout (image_id);

CREATE TABLE evaluation (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  split_id INTEGER REFERENCES split(id) ON DELETE SET NULL,
  metrics TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metrics)),
  per_category TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(per_category)),
  created_at INTEGER NOT NULL DEFAULT ${now}
) STRICT;
CREATE INDEX evaluation_run ON evaluation (run_id);
CREATE INDEX evaluation_split ON evaluation (split_id);

-- One row per predicted box. A completion that yielded no box keeps its text with a NULL box, so
-- the failure stays visible; a box is all four coordinates or none.
CREATE TABLE prediction (
  id INTEGER PRIMARY KEY,
  evaluation_id INTEGER NOT NULL REFERENCES evaluation(id) ON DELETE CASCADE,
  image_id INTEGER NOT NULL REFERENCES image(id) ON DELETE CASCADE,
  category_id INTEGER REFERENCES category(id) ON DELETE SET NULL,
  x1 REAL,
  y1 REAL,
  x2 REAL,
  y2 REAL,
  score REAL,
  completion TEXT NOT NULL DEFAULT '',
  CHECK (
    (x1 IS NULL AND y1 IS NULL AND x2 IS NULL AND y2 IS NULL)
    OR (x1 IS NOT NULL AND y1 IS NOT NULL AND x2 > x1 AND y2 > y1)
  )
) STRICT;
CREATE INDEX prediction_evaluation ON prediction (evaluation_id);
CREATE INDEX prediction_image ON prediction (image_id);
CREATE INDEX prediction_category ON prediction (category_id);
`;

/**
 * Runs get a name the user can edit; metrics say when they were logged; a run's warnings are kept (they vanished on reload); an
 * experiment ties a base evaluation and an SFT and a GRPO run on one split and budget together, so
 * Compare can open it as one.
 */
const runNamesWarningsExperiments = /* sql */ `
ALTER TABLE run ADD COLUMN name TEXT NOT NULL DEFAULT '';
-- When a metric row was logged (ms), for charts over time; NULL for rows older than this column.
ALTER TABLE metric ADD COLUMN logged_at INTEGER;

CREATE TABLE run_warning (
  run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (length(kind) > 0),
  step INTEGER NOT NULL CHECK (step >= 0),
  message TEXT NOT NULL,
  created_at INTEGER NOT NULL DEFAULT ${now},
  PRIMARY KEY (run_id, kind, step)
) STRICT, WITHOUT ROWID;

CREATE TABLE experiment (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL CHECK (length(trim(name)) > 0),
  dataset_id INTEGER REFERENCES dataset(id) ON DELETE CASCADE,
  train_split_id INTEGER REFERENCES split(id) ON DELETE SET NULL,
  eval_split_id INTEGER REFERENCES split(id) ON DELETE SET NULL,
  config TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config)),
  -- The base model's evaluation run, and the SFT and GRPO training runs (each evaluated by a child).
  base_run_id INTEGER REFERENCES run(id) ON DELETE SET NULL,
  sft_run_id INTEGER REFERENCES run(id) ON DELETE SET NULL,
  rft_run_id INTEGER REFERENCES run(id) ON DELETE SET NULL,
  status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
  -- What it is doing now, in words ("training SFT (run 7)").
  phase TEXT NOT NULL DEFAULT '',
  error TEXT,
  created_at INTEGER NOT NULL DEFAULT ${now},
  finished_at INTEGER
) STRICT;
CREATE INDEX experiment_dataset ON experiment (dataset_id);
CREATE INDEX experiment_train_split ON experiment (train_split_id);
CREATE INDEX experiment_eval_split ON experiment (eval_split_id);
CREATE INDEX experiment_base_run ON experiment (base_run_id);
CREATE INDEX experiment_sft_run ON experiment (sft_run_id);
CREATE INDEX experiment_rft_run ON experiment (rft_run_id);
`;

/**
 * Trace replay (store/traces.ts). rollout_run_step becomes a covering index of a group's numbers,
 * so per-step summaries and zero-spread groups never read a completion; a prompt's steps in a run
 * (the same prompt in a second run); a run's rollouts by advantage; rollout_flag lists the
 * truncated, format-failed and duplicate-box rollouts by run and advantage (kept by triggers, as
 * is the trigram index of completions for the text search; cascaded deletes fire them too).
 * The flag rules live here only (a released migration never changes); traces.ts reads the flags.
 */
const flagOf = (row: string) => ({
  truncated: `${row}.truncated = 1`,
  format: `(${row}.parsed IS NULL OR ${row}.rewards ->> '$.format' = 0
    OR (${row}.rewards ->> '$.format' IS NULL AND ${row}.parsed ->> '$.formatOk' = 0))`,
  duplicate: `(${row}.parsed IS NOT NULL AND (instr(${row}.parsed, '"exact duplicate"') > 0
    OR (json_array_length(${row}.parsed, '$.detection.boxes') > 1 AND EXISTS (
      SELECT 1 FROM json_each(${row}.parsed, '$.detection.boxes') a, json_each(${row}.parsed, '$.detection.boxes') b
      WHERE a.key < b.key AND a.value ->> 'x1' = b.value ->> 'x1' AND a.value ->> 'y1' = b.value ->> 'y1'
        AND a.value ->> 'x2' = b.value ->> 'x2' AND a.value ->> 'y2' = b.value ->> 'y2'))))`,
});
const flagInserts = (row: string, from: string) =>
  Object.entries(flagOf(row))
    .map(
      ([flag, rule]) =>
        `INSERT INTO rollout_flag (run_id, flag, advantage, rollout_id, step)
         SELECT ${row}.run_id, '${flag}', ${row}.advantage, ${row}.id, ${row}.step ${from} WHERE ${rule};`,
    )
    .join('\n');

const traceIndexes = /* sql */ `
DROP INDEX rollout_run_step;
CREATE INDEX rollout_run_step ON rollout (run_id, step, prompt_key, sample_index, reward, tokens, truncated);
CREATE INDEX rollout_run_prompt ON rollout (run_id, prompt_key, step);
CREATE INDEX rollout_run_advantage ON rollout (run_id, advantage);

CREATE TABLE rollout_flag (
  run_id INTEGER NOT NULL,
  flag TEXT NOT NULL CHECK (flag IN ('truncated', 'format', 'duplicate')),
  advantage REAL NOT NULL,
  rollout_id INTEGER NOT NULL,
  step INTEGER NOT NULL,
  PRIMARY KEY (run_id, flag, advantage, rollout_id)
) STRICT, WITHOUT ROWID;
${flagInserts('r', 'FROM rollout r')}

CREATE VIRTUAL TABLE rollout_text USING fts5(
  completion, content = 'rollout', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO rollout_text (rollout_text) VALUES ('rebuild');

CREATE TRIGGER rollout_trace_insert AFTER INSERT ON rollout BEGIN
  INSERT INTO rollout_text (rowid, completion) VALUES (new.id, new.completion);
  ${flagInserts('new', '')}
END;
CREATE TRIGGER rollout_trace_delete AFTER DELETE ON rollout BEGIN
  INSERT INTO rollout_text (rollout_text, rowid, completion) VALUES ('delete', old.id, old.completion);
  DELETE FROM rollout_flag WHERE run_id = old.run_id AND flag IN ('truncated', 'format', 'duplicate')
    AND advantage = old.advantage AND rollout_id = old.id;
END;
`;

/**
 * The model table as a registry of folders (store/models.ts): one row per folder (its path made
 * UNIQUE: duplicates an older build added are merged into the oldest row, runs repointed) and when
 * the workspace last used it. created_at is when it was added; weights_sha256 the weights' sha256.
 */
const modelRegistry = /* sql */ `
ALTER TABLE model ADD COLUMN last_used_at INTEGER;
UPDATE model SET last_used_at = (SELECT max(m.created_at) FROM model m WHERE m.path = model.path);
UPDATE run SET model_id = (
  SELECT min(m.id) FROM model m WHERE m.path = (SELECT path FROM model WHERE id = run.model_id)
) WHERE model_id IS NOT NULL;
DELETE FROM model WHERE id NOT IN (SELECT min(id) FROM model GROUP BY path);
CREATE UNIQUE INDEX model_path ON model (path);
`;

/**
 * Every task of the papers on user data (issue 25). A box can carry a referring expression (a
 * phrase, or a LISA-style question): a box with one is a REC / grounding item, asked by its
 * expression instead of its category. `crowd` is COCO's iscrowd (a crowd region: AP ignores
 * what matches it). An image can carry one image-level label (classification, Visual-RFT's
 * single label), a category can list synonyms an answer may use. source_line keeps what an
 * imported line said that the boxes do not (VLM-R1: its id, its own category list, its
 * accu_reward_method), so an export writes the line back as it was.
 */
const tasksOnUserData = /* sql */ `
ALTER TABLE annotation ADD COLUMN expression TEXT NOT NULL DEFAULT '';
ALTER TABLE annotation ADD COLUMN crowd INTEGER NOT NULL DEFAULT 0 CHECK (crowd IN (0, 1));
CREATE INDEX annotation_expression ON annotation (image_id) WHERE expression <> '';

ALTER TABLE category ADD COLUMN synonyms TEXT NOT NULL DEFAULT '[]'
  CHECK (json_valid(synonyms) AND json_type(synonyms) = 'array');

CREATE TABLE image_label (
  image_id INTEGER PRIMARY KEY REFERENCES image(id) ON DELETE CASCADE,
  category_id INTEGER NOT NULL REFERENCES category(id) ON DELETE CASCADE,
  source TEXT NOT NULL DEFAULT 'human' CHECK (source IN ('human', 'model')),
  updated_at INTEGER NOT NULL DEFAULT ${now}
) STRICT;
CREATE INDEX image_label_category ON image_label (category_id);

CREATE TABLE source_line (
  id INTEGER PRIMARY KEY,
  image_id INTEGER NOT NULL REFERENCES image(id) ON DELETE CASCADE,
  -- The line's box when it is one REC item; NULL for a line about the whole image.
  annotation_id INTEGER REFERENCES annotation(id) ON DELETE CASCADE,
  format TEXT NOT NULL CHECK (length(format) > 0),
  -- The id the file gave the line (text: files use numbers and strings alike).
  line_id TEXT NOT NULL,
  -- The line's own list of categories asked (JSON array), NULL when it named none.
  categories TEXT CHECK (categories IS NULL OR (json_valid(categories) AND json_type(categories) = 'array')),
  accu_reward_method TEXT
) STRICT;
CREATE INDEX source_line_image ON source_line (image_id);
CREATE INDEX source_line_annotation ON source_line (annotation_id);
`;

export const migrations: readonly Migration[] = [
  { version: 1, name: 'initial data model', sql: initial },
  { version: 2, name: 'run names, run warnings, experiments', sql: runNamesWarningsExperiments },
  { version: 3, name: 'trace indexes and completion search', sql: traceIndexes },
  { version: 4, name: 'model folders: unique path, last used', sql: modelRegistry },
  {
    version: 5,
    name: 'expressions, crowd boxes, image labels, synonyms, source lines',
    sql: tasksOnUserData,
  },
];
