/**
 * The gradient worker of data-parallel SFT (dataParallel.ts): a worker_thread with its own
 * TensorFlow.js backend and a copy of the policy. Per step it takes the trainable weights and its
 * share of the batch, and answers with the loss and gradients; it never updates weights itself.
 */
import { parentPort } from 'node:worker_threads';
import type * as tf from '@tensorflow/tfjs';
import { initEngine } from '../engine';
import { policyFromReplica } from '../models';
import type { Policy } from '../models/policy';
import type { GradientReply, GradientRequest } from './dataParallel';
import { gradients, sftLoss } from './sft';

const port = parentPort;
if (!port) throw new Error('gradientWorker.js runs as a worker_thread of a training process');

let policy: Policy | null = null;
let named = new Map<string, tf.Variable>();

async function handle(message: GradientRequest): Promise<GradientReply> {
  if (message.type === 'init') {
    await initEngine({ force: message.backend });
    policy = policyFromReplica(message.replica);
    named = policy.trainableWeights();
    return { type: 'ready' };
  }
  const current = policy;
  if (!current) throw new Error('a step came before init');
  for (const name of message.weights.keys())
    if (!named.has(name)) throw new Error(`the trainer sent ${name}, which is not trainable here`);
  current.loadWeights(message.weights);
  const { trainThink, patchLossWeight, patchBoxWeight } = message.options;
  const { loss, grads } = gradients(current, named, () =>
    sftLoss(current, message.batch, trainThink, patchLossWeight, patchBoxWeight),
  );
  return { type: 'gradients', loss, grads };
}

port.on('message', (message: GradientRequest) => {
  handle(message).then(
    // Copied, not transferred: on some backends dataSync's array is the tensor store itself.
    (reply) => port.postMessage(reply),
    (error: unknown) =>
      port.postMessage({
        type: 'error',
        message: error instanceof Error ? error.message : String(error),
      } satisfies GradientReply),
  );
});
