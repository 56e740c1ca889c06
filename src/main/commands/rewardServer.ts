/**
 * `vrft reward-server --run RUN`: vrft's verifiable rewards over HTTP for a run exported with
 * `vrft scale-out export`, recording every rollout it scores and TRL's logs into the run. With
 * --json, one JSON document ({url, runId, port}) once it listens; progress on stderr; Ctrl-C stops.
 */
import path from 'node:path';
import { UserError } from '../../shared/errors';
import { defaultDataDir } from '../host/paths';
import { readPlan } from '../scaleOut/plan';
import { startRewardServer } from '../scaleOut/server';
import { openStore, workspaceDbPath } from '../store/db';
import { requiredString, UsageError, wholeNumber, type Command, type Values } from './command';

const loopback = new Set(['127.0.0.1', '::1', 'localhost']);

async function rewardServer(values: Values): Promise<number> {
  requiredString(values, 'run');
  const runId = wholeNumber(values, 'run');
  const dataDir = path.resolve(typeof values.data === 'string' ? values.data : defaultDataDir());
  const host = typeof values.host === 'string' ? values.host : '127.0.0.1';
  let plan;
  try {
    plan = readPlan(dataDir, runId);
  } catch (error) {
    if (error instanceof UserError) throw new UsageError(error.message);
    throw error;
  }
  const port = values.port === undefined ? plan.port : wholeNumber(values, 'port');
  const db = openStore(workspaceDbPath(dataDir));
  let server;
  try {
    server = await startRewardServer(db, plan, {
      host,
      port,
      onRecordError: (message) => process.stderr.write(`vrft: ${message}\n`),
      onRound: ({ step, count, reward }) =>
        process.stderr.write(`step ${step}: ${count} rollouts recorded, mean reward ${reward.toFixed(3)}\n`),
    });
  } catch (error) {
    db.close();
    if (error instanceof UserError) throw new UsageError(error.message);
    throw error;
  }
  if (!loopback.has(host))
    process.stderr.write(
      `vrft: listening on ${host}, beyond this machine: the token is all that guards it\n`,
    );
  if (values.json) process.stdout.write(`${JSON.stringify({ url: server.url, runId, port: server.port })}\n`);
  process.stderr.write(`vrft reward server for run ${runId} on ${server.url} (Ctrl-C stops)\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  db.close();
  process.stderr.write(`vrft: stopped; ${server.rollouts()} rollouts recorded this session\n`);
  return 0;
}

export const rewardServerCommand: Command = {
  summary: "serve a run's verifiable rewards over HTTP to TRL, recording every rollout",
  usage: 'vrft reward-server --run RUN [--port N] [--host H] [--data WS] [--json]',
  flags: {
    run: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    data: { type: 'string' },
    json: { type: 'boolean' },
  },
  run: rewardServer,
};
