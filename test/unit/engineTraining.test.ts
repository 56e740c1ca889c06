// A tiny one-layer transformer trained a few steps on wasm and on cpu: the losses must agree. It
// uses what the project's models use (gather embeddings, layernorm, 2-D weight matMuls, causal
// attention with a mask made outside the tape, slice/concat heads, gelu, logSoftmax, Adam with
// decoupled weight decay), so a kernel or gradient missing on wasm fails here.
import { beforeAll, expect, it } from 'vitest';
import { initEngine, isProjectKernel, tf } from '../../src/main/engine';
import { seeded } from '../support/random';

// Heads of 32 tokens × 16 are large enough for the per-entry batched product on wasm.
const [vocab, batch, time, width, heads] = [40, 4, 32, 32, 2];
const headWidth = width / heads;
const steps = 6;

type Params = Record<string, tf.Variable>;

function initialValues(): Record<string, { shape: number[]; values: Float32Array }> {
  const rng = seeded(7);
  const normal = (shape: number[], scale: number) => {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < values.length; i++) values[i] = (rng.next() + rng.next() + rng.next() - 1.5) * scale;
    return { shape, values };
  };
  const filled = (shape: number[], value: number) => ({
    shape,
    values: new Float32Array(shape[0] as number).fill(value),
  });
  return {
    wte: normal([vocab, width], 0.5),
    wpe: normal([time, width], 0.1),
    ln1_g: filled([width], 1),
    ln1_b: filled([width], 0),
    qkv_w: normal([width, 3 * width], 0.3),
    qkv_b: filled([3 * width], 0.01),
    proj_w: normal([width, width], 0.3),
    ln2_g: filled([width], 1),
    ln2_b: filled([width], 0),
    fc_w: normal([width, 4 * width], 0.3),
    fc_b: filled([4 * width], 0),
    fc_proj_w: normal([4 * width, width], 0.15),
    lnf_g: filled([width], 1),
    lnf_b: filled([width], 0),
  };
}

function batchData() {
  const rng = seeded(11);
  // A learnable sequence: each token is the previous one plus a per-row step.
  const tokens = new Int32Array(batch * (time + 1));
  for (let b = 0; b < batch; b++) {
    const step = rng.int(1, 3);
    let token = rng.int(0, vocab - 1);
    for (let t = 0; t <= time; t++, token = (token + step) % vocab) tokens[b * (time + 1) + t] = token;
  }
  const inputs = new Int32Array(batch * time);
  const targets = new Int32Array(batch * time);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < time; t++) {
      inputs[b * time + t] = tokens[b * (time + 1) + t] as number;
      targets[b * time + t] = tokens[b * (time + 1) + t + 1] as number;
    }
  }
  return { inputs, targets };
}

function layerNorm(x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true);
  return x
    .sub(mean)
    .mul(tf.rsqrt(variance.add(1e-5)))
    .mul(g)
    .add(b);
}

function gelu(x: tf.Tensor): tf.Tensor {
  const inner = x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
  return x.mul(0.5).mul(tf.tanh(inner).add(1));
}

function loss(p: Params, ids: tf.Tensor2D, targets: tf.Tensor1D, mask: tf.Tensor): tf.Scalar {
  const positions = tf.range(0, time, 1, 'int32');
  const x = tf
    .gather(p.wte!, ids)
    .add(tf.gather(p.wpe!, positions))
    .reshape([batch * time, width]) as tf.Tensor2D;
  const h = layerNorm(x, p.ln1_g!, p.ln1_b!);
  const qkv = tf.fused.matMul({ a: h, b: p.qkv_w as tf.Tensor2D, bias: p.qkv_b });
  const headOutputs: tf.Tensor[] = [];
  for (let head = 0; head < heads; head++) {
    const part = (which: number) =>
      tf
        .slice(qkv, [0, which * width + head * headWidth], [batch * time, headWidth])
        .reshape([batch, time, headWidth]);
    const [q, k, v] = [part(0), part(1), part(2)];
    const scores = tf
      .matMul(q, k, false, true)
      .mul(1 / Math.sqrt(headWidth))
      .add(mask);
    headOutputs.push(tf.matMul(tf.softmax(scores), v).reshape([batch * time, headWidth]));
  }
  const attended = tf.concat(headOutputs, 1) as tf.Tensor2D;
  const x1 = x.add(tf.matMul(attended, p.proj_w as tf.Tensor2D)) as tf.Tensor2D;
  const hidden = gelu(
    tf.fused.matMul({ a: layerNorm(x1, p.ln2_g!, p.ln2_b!), b: p.fc_w as tf.Tensor2D, bias: p.fc_b }),
  );
  const x2 = x1.add(tf.matMul(hidden as tf.Tensor2D, p.fc_proj_w as tf.Tensor2D)) as tf.Tensor2D;
  // Tied output embedding: logits = ln_f(x) · wteᵀ.
  const logits = tf.matMul(layerNorm(x2, p.lnf_g!, p.lnf_b!), p.wte as tf.Tensor2D, false, true);
  const logProbs = tf.logSoftmax(logits);
  return tf.neg(tf.mean(tf.sum(logProbs.mul(tf.oneHot(targets, vocab)), -1))) as tf.Scalar;
}

async function train(backend: 'wasm' | 'cpu'): Promise<number[]> {
  await initEngine({ force: backend });
  const dataBefore = tf.engine().backend.numDataIds();
  const params: Params = {};
  for (const [name, { shape, values }] of Object.entries(initialValues())) {
    params[name] = tf.tidy(() => tf.variable(tf.tensor(values, shape), true, `${backend}/${name}`));
  }
  const { inputs, targets } = batchData();
  const ids = tf.tensor2d(inputs, [batch, time], 'int32');
  const targetIds = tf.tensor1d(targets, 'int32');
  // Causal mask, built outside the tape: -1e9 above the diagonal.
  const maskValues = new Float32Array(time * time);
  for (let i = 0; i < time; i++) for (let j = i + 1; j < time; j++) maskValues[i * time + j] = -1e9;
  const mask = tf.tensor2d(maskValues, [time, time]);
  const [learningRate, weightDecay] = [0.01, 0.1];
  const optimizer = tf.train.adam(learningRate, 0.9, 0.999, 1e-8);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const value = optimizer.minimize(() => loss(params, ids, targetIds, mask), true, Object.values(params));
    losses.push(value!.dataSync()[0] as number);
    value!.dispose();
    // AdamW: decay the matrices, not gains and biases, apart from the gradient step.
    tf.tidy(() => {
      for (const v of Object.values(params))
        if (v.rank === 2) v.assign(v.mul(1 - learningRate * weightDecay));
    });
  }
  optimizer.dispose();
  tf.dispose([...Object.values(params), ids, targetIds, mask]);
  // Nothing left behind, including the kernels' own scratch tensors in the wasm heap.
  expect(tf.engine().backend.numDataIds()).toBe(dataBefore);
  return losses;
}

beforeAll(async () => {
  await initEngine({ force: 'wasm' });
});

it('trains a one-layer transformer on wasm with the losses of cpu (within 1e-4), and it learns', async () => {
  expect(isProjectKernel('UnsortedSegmentSum')).toBe(true);
  const wasm = await train('wasm');
  const cpu = await train('cpu');
  expect(wasm).toHaveLength(steps);
  wasm.forEach((value, step) =>
    expect(Math.abs(value - (cpu[step] as number)), `step ${step}`).toBeLessThan(1e-4),
  );
  expect(wasm.at(-1)).toBeLessThan((wasm[0] as number) - 0.1);
  expect(tf.memory().numTensors).toBe(0);
});
