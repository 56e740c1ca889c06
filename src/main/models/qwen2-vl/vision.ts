/**
 * The Qwen2-VL / Qwen2.5-VL vision tower (QWEN.md §3): pixel rows [N, C·T·p·p] of one or more
 * images → merged features [N/4, LLM width], one row per `<|image_pad|>` token, image after image.
 *
 *   pixel rows ─ visual.patch_embed.proj (Conv3d as a matmul) ─┬─ [2.5: window order] ─ visual.blocks.* ─
 *   2-D rotary embedding of each patch's (row, col) ───────────┘
 *     ─ visual.merger.ln_q ─ view [N/4, 4E] ─ visual.merger.mlp.0 ─ GELU (erf) ─ visual.merger.mlp.2 ─ [2.5: image order]
 *
 * Rows come as the image processor lays them out: grouped by 2×2 merge block, block after block
 * (`block-major`), so four consecutive rows make one merged token. Attention is bidirectional and
 * never crosses images (transformers' `cu_seqlens`). Qwen2-VL blocks: LayerNorm, QuickGELU MLP.
 * Qwen2.5-VL blocks: RMSNorm, SiLU-gated MLP with bias, and attention within windows of 4×4
 * merged tokens except in the `fullatt_block_indexes` blocks; for that the tower runs in window
 * order (merged tokens window by window) and puts the merger's output back in image order.
 */
import { tf } from '../../engine/tf';
import type { QwenConfig } from './config';
import { applyRotary, attention, cosSin, inverseFrequencies, masked, type QwenWeights } from './layers';

/** An image's `image_grid_thw`: frames (1 for an image), patch rows, patch columns. */
export type GridThw = readonly [number, number, number];

export interface VisionOutput {
  /** [Σ t·h·w/4, out width], image after image in the order of `grids`. */
  merged: tf.Tensor2D;
  /** With `blockOutputs`: the patch embedding [N, E] (image order). */
  patchEmbed?: tf.Tensor2D;
  /** With `blockOutputs`: each block's output [N, E], in the order the blocks see the rows (window order in 2.5). */
  blocks?: tf.Tensor2D[];
}

/** Merged tokens of an image: t·(h/m)·(w/m). */
export function mergedTokenCount(grid: GridThw, mergeSize = 2): number {
  return (grid[0] * grid[1] * grid[2]) / (mergeSize * mergeSize);
}

/**
 * The (row, col) of every patch in block-major order (get_vision_position_ids): per frame, merge
 * block by merge block, then within the block row by row.
 */
export function patchPositions(grids: readonly GridThw[], m: number): { rows: number[]; cols: number[] } {
  const rows: number[] = [];
  const cols: number[] = [];
  for (const [t, h, w] of grids)
    for (let f = 0; f < t; f++)
      for (let bh = 0; bh < h / m; bh++)
        for (let bw = 0; bw < w / m; bw++)
          for (let i = 0; i < m; i++)
            for (let j = 0; j < m; j++) {
              rows.push(bh * m + i);
              cols.push(bw * m + j);
            }
  return { rows, cols };
}

/**
 * Qwen2.5-VL's window order (get_vision_window_index): the merged tokens of each frame, window by
 * window (windows of `size`×`size` merged tokens, the grid padded up to whole windows — a full
 * extra window when it already divides), row by row within a window. Returns the merged-token
 * permutation and the length in patch rows of each non-empty window.
 */
export function windowIndex(
  grids: readonly GridThw[],
  m: number,
  size: number,
): { order: number[]; windowLengths: number[] } {
  const order: number[] = [];
  const windowLengths: number[] = [];
  let offset = 0;
  for (const [t, h, w] of grids) {
    const gh = h / m;
    const gw = w / m;
    const windowsDown = (gh + size - (gh % size)) / size;
    const windowsAcross = (gw + size - (gw % size)) / size;
    for (let f = 0; f < t; f++)
      for (let wy = 0; wy < windowsDown; wy++)
        for (let wx = 0; wx < windowsAcross; wx++) {
          let count = 0;
          for (let i = 0; i < size; i++)
            for (let j = 0; j < size; j++) {
              const r = wy * size + i;
              const c = wx * size + j;
              if (r >= gh || c >= gw) continue;
              order.push(offset + f * gh * gw + r * gw + c);
              count++;
            }
          if (count > 0) windowLengths.push(count * m * m);
        }
    offset += t * gh * gw;
  }
  return { order, windowLengths };
}

/**
 * Bidirectional attention within consecutive segments of rows (the images, or the windows):
 * q, k, v [N, heads, d] → [N, heads·d]. Many similar segments (windows) run as one padded batch;
 * a few or very unequal ones (images) one by one, queries in chunks so a large image's scores
 * stay within ~256 MiB.
 */
function segmentAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, lengths: number[]): tf.Tensor2D {
  const [n, heads, d] = q.shape;
  const longest = Math.max(...lengths);
  const exactWork = lengths.reduce((sum, len) => sum + len * len, 0);
  if (lengths.length > 1 && lengths.length * longest * longest <= 2 * exactWork) {
    // Segment s's row i sits at s·L + i; padding rows repeat a real row and are masked as keys.
    const count = lengths.length;
    const index = new Int32Array(count * longest);
    const keyMask = new Float32Array(count * longest);
    const real: number[] = [];
    let start = 0;
    lengths.forEach((len, s) => {
      for (let i = 0; i < longest; i++) {
        index[s * longest + i] = i < len ? start + i : start;
        if (i < len) real.push(s * longest + i);
        else keyMask[s * longest + i] = masked;
      }
      start += len;
    });
    const indexTensor = tf.tensor1d(index, 'int32');
    const batch = (x: tf.Tensor3D) =>
      tf.transpose(tf.reshape(tf.gather(x, indexTensor), [count, longest, heads, d]), [0, 2, 1, 3]);
    const out = attention(batch(q), batch(k), batch(v), tf.tensor4d(keyMask, [count, 1, 1, longest]));
    const rows = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [count * longest, heads * d]);
    return tf.gather(rows, tf.tensor1d(real, 'int32')) as tf.Tensor2D;
  }
  const outputs: tf.Tensor[] = [];
  let start = 0;
  for (const len of lengths) {
    const headsFirst = (x: tf.Tensor3D, from: number, size: number) =>
      tf.transpose(tf.slice(x, [from, 0, 0], [size, -1, -1]), [1, 0, 2]);
    const keys = headsFirst(k, start, len);
    const values = headsFirst(v, start, len);
    const chunk = Math.max(1, Math.floor(2 ** 26 / (heads * len)));
    for (let from = 0; from < len; from += chunk) {
      const queries = headsFirst(q, start + from, Math.min(chunk, len - from));
      outputs.push(tf.transpose(attention(queries, keys, values, null), [1, 0, 2]));
    }
    start += len;
  }
  return tf.reshape(outputs.length === 1 ? outputs[0]! : tf.concat(outputs, 0), [n, heads * d]);
}

export class QwenVision {
  constructor(
    readonly config: QwenConfig,
    private readonly weights: QwenWeights,
  ) {}

  /**
   * Pixel rows [N, C·T·p·p] of the images of `grids`, in order → merged features. Differentiable
   * (the tower is frozen by default, but nothing here stops a gradient).
   */
  encode(
    pixels: tf.Tensor2D,
    grids: readonly GridThw[],
    options: { blockOutputs?: boolean } = {},
  ): VisionOutput {
    const { spatialMergeSize: m, hiddenSize: width, numHeads, depth, windowSize } = this.config.vision;
    const rows = grids.reduce((sum, [t, h, w]) => sum + t * h * w, 0);
    if (pixels.shape[0] !== rows)
      throw new Error(`the pixel rows (${pixels.shape[0]}) do not match the image grids (${rows} patches)`);
    const windowed = this.config.family === 'qwen2.5-vl';
    const window = windowed ? windowIndex(grids, m, windowSize! / m / this.config.vision.patchSize) : null;
    // Window order moves whole merged tokens: patch row u·m² + j goes with merged token u.
    const patchOrder = window?.order.flatMap((u) => Array.from({ length: m * m }, (_, j) => u * m * m + j));

    return tf.tidy(() => {
      const embedWeight = this.weights.get('visual.patch_embed.proj.weight');
      const flatWeight = tf.reshape(embedWeight, [width, -1]) as tf.Tensor2D;
      const patchEmbed = tf.matMul<tf.Tensor2D>(pixels, flatWeight, false, true);
      const { cos, sin } = this.rotary(grids, patchOrder);
      let x = patchOrder ? tf.gather<tf.Tensor2D>(patchEmbed, tf.tensor1d(patchOrder, 'int32')) : patchEmbed;

      const imageLengths = grids.flatMap(([t, h, w]) => Array<number>(t).fill(h * w));
      const blocks: tf.Tensor2D[] = [];
      for (let i = 0; i < depth; i++) {
        const full = !window || this.config.vision.fullAttBlockIndexes!.includes(i);
        x = this.block(i, x, cos, sin, full ? imageLengths : window.windowLengths, numHeads);
        if (options.blockOutputs) blocks.push(x);
      }

      let merged = this.merger(x);
      if (window) {
        const back = new Int32Array(window.order.length);
        window.order.forEach((u, k) => (back[u] = k));
        merged = tf.gather<tf.Tensor2D>(merged, tf.tensor1d(back, 'int32'));
      }
      return options.blockOutputs ? { merged, patchEmbed, blocks } : { merged };
    });
  }

  /** cos/sin [N, 1, d] of the 2-D rotary embedding: angles [row·inv, col·inv], doubled. */
  private rotary(grids: readonly GridThw[], order?: number[]): { cos: tf.Tensor; sin: tf.Tensor } {
    const { hiddenSize, numHeads, spatialMergeSize, ropeTheta } = this.config.vision;
    const headDim = hiddenSize / numHeads;
    const inv = inverseFrequencies(ropeTheta, headDim / 2);
    const quarter = inv.length;
    const { rows, cols } = patchPositions(grids, spatialMergeSize);
    const sequence = order ?? rows.map((_, i) => i);
    const angles = new Float32Array(sequence.length * 2 * quarter);
    sequence.forEach((patch, r) => {
      for (let i = 0; i < quarter; i++) {
        angles[r * 2 * quarter + i] = rows[patch]! * inv[i]!;
        angles[r * 2 * quarter + quarter + i] = cols[patch]! * inv[i]!;
      }
    });
    const { cos, sin } = cosSin(angles, 2 * quarter);
    return {
      cos: tf.tensor3d(cos, [sequence.length, 1, headDim]),
      sin: tf.tensor3d(sin, [sequence.length, 1, headDim]),
    };
  }

  private block(
    i: number,
    x: tf.Tensor2D,
    cos: tf.Tensor,
    sin: tf.Tensor,
    segments: number[],
    heads: number,
  ): tf.Tensor2D {
    const p = `visual.blocks.${i}`;
    const qwen2 = this.config.family === 'qwen2-vl';
    const norm = (name: string, h: tf.Tensor) =>
      qwen2 ? this.weights.layerNorm(name, h) : this.weights.rmsNorm(name, h);

    // Attention: qkv [N, 3E] → q, k, v [N, heads, d], rotated, attended within segments.
    const [n, width] = x.shape;
    const qkv = tf.reshape(this.weights.linear(`${p}.attn.qkv`, norm(`${p}.norm1`, x)), [
      n,
      3,
      heads,
      width / heads,
    ]);
    const [q, k, v] = tf.unstack(qkv, 1) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    const attended = segmentAttention(
      applyRotary(q, cos, sin) as tf.Tensor3D,
      applyRotary(k, cos, sin) as tf.Tensor3D,
      v,
      segments,
    );
    const h = tf.add(x, this.weights.linear(`${p}.attn.proj`, attended)) as tf.Tensor2D;

    // MLP: QuickGELU (2-VL) or SiLU-gated with bias (2.5).
    const y = norm(`${p}.norm2`, h);
    let mlp: tf.Tensor;
    if (qwen2) {
      const up = this.weights.linear(`${p}.mlp.fc1`, y);
      mlp = this.weights.linear(`${p}.mlp.fc2`, tf.mul(up, tf.sigmoid(tf.mul(up, 1.702))));
    } else {
      const gate = this.weights.linear(`${p}.mlp.gate_proj`, y);
      const up = this.weights.linear(`${p}.mlp.up_proj`, y);
      mlp = this.weights.linear(`${p}.mlp.down_proj`, tf.mul(tf.mul(gate, tf.sigmoid(gate)), up));
    }
    return tf.add(h, mlp) as tf.Tensor2D;
  }

  /** PatchMerger: norm, four neighbouring patches side by side [N/4, 4E], Linear, GELU (erf), Linear. */
  private merger(x: tf.Tensor2D): tf.Tensor2D {
    const { spatialMergeSize: m, hiddenSize: width } = this.config.vision;
    const normed =
      this.config.family === 'qwen2-vl'
        ? this.weights.layerNorm('visual.merger.ln_q', x)
        : this.weights.rmsNorm('visual.merger.ln_q', x);
    const h = this.weights.linear('visual.merger.mlp.0', tf.reshape(normed, [-1, m * m * width]));
    const gelu = tf.mul(tf.mul(h, 0.5), tf.add(tf.erf(tf.mul(h, Math.SQRT1_2)), 1));
    return this.weights.linear('visual.merger.mlp.2', gelu) as tf.Tensor2D;
  }
}
