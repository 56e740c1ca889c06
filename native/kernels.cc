// vrft's native CPU kernels: a packed, register-blocked float32 matrix product, im2col/col2im to
// make each convolution one product, a fused GELU and layer norm, and e^x (float, and double for
// drawing tokens), for the wasm backend's kernels (see src/main/engine/native.ts). tfjs's wasm
// backend multiplies with XNNPACK on 128-bit wasm SIMD (~20–30 GFLOP/s on one core); the same
// product written for the CPU's own vector width runs several times faster. The operands are read
// in place from the wasm heap, in any layout (transposes are strides), so nothing is copied or
// transposed before the product.
//
// The product is GotoBLAS-shaped: b is packed into panels of NR columns (row k of a panel is NR
// contiguous values), a into panels of MR rows (column k of a panel is MR contiguous values), and
// a micro-kernel keeps an MR × NR block of c in registers while it walks k. Written with GCC/Clang
// vector extensions, instantiated once per instruction set at that set's own register width
// (AVX-512 16 floats, AVX2 8, SSE2 and NEON 4); the widest the CPU has is chosen at load. Where
// the platform has a well-kept BLAS (Accelerate, a system OpenBLAS) it is one more choice, and the
// load-time check keeps whichever product measured faster.
#include <node_api.h>
#if !defined(_WIN32)
#include <dlfcn.h>
#endif

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

/** W floats in one vector register: 16 (AVX-512), 8 (AVX2), 4 (SSE2, NEON). */
template <int W>
struct VectorOf;
template <>
struct VectorOf<16> {
  typedef float type __attribute__((vector_size(64)));
};
template <>
struct VectorOf<8> {
  typedef float type __attribute__((vector_size(32)));
};
template <>
struct VectorOf<4> {
  typedef float type __attribute__((vector_size(16)));
};

struct Operand {
  const float* data;
  long batchStride, rowStride, colStride;
};

thread_local std::vector<float> packedA, packedB;

/**
 * c[entry] = a[entry] · b[entry] for each batch entry: a is m × k, b is k × n, c is m × n
 * row-major. The micro-kernel keeps MR × (NV vectors of W) of c in registers; k is walked in
 * blocks of KC so that one packed panel of b (KC × NR) stays in L1 while every panel of a block of
 * MC rows of a (in L2) passes over it.
 */
template <int W, int MR, int NV>
inline __attribute__((always_inline)) void gemmBody(int batch, int m, int n, int k, Operand a, Operand b, float* c) {
  typedef typename VectorOf<W>::type V;
  constexpr int NR = W * NV;
  constexpr int KC = 24 * 1024 / (NR * int(sizeof(float)));  // a b panel fills ~24 KiB of L1
  constexpr int MC = MR * (96 / MR);                          // ~96 rows of a at a time, in L2
  const int colPanels = (n + NR - 1) / NR;
  const int kBlock = k < KC ? k : KC;
  if (packedA.size() < size_t(kBlock) * MC) packedA.resize(size_t(kBlock) * MC);
  if (packedB.size() < size_t(kBlock) * NR * colPanels) packedB.resize(size_t(kBlock) * NR * colPanels);
  float* ap = packedA.data();
  float* bp = packedB.data();
  for (int entry = 0; entry < batch; entry++) {
    const float* ae = a.data + entry * a.batchStride;
    const float* be = b.data + entry * b.batchStride;
    float* ce = c + long(entry) * m * n;
    for (int k0 = 0; k0 < k; k0 += KC) {
      const int kc = k - k0 < KC ? k - k0 : KC;
      // b's rows k0 … k0+kc, as column panels: row kk of panel p is NR contiguous values.
      for (int p = 0; p < colPanels; p++) {
        float* panel = bp + long(p) * kc * NR;
        const int cols = n - p * NR < NR ? n - p * NR : NR;
        for (int kk = 0; kk < kc; kk++) {
          const float* from = be + long(k0 + kk) * b.rowStride + long(p) * NR * b.colStride;
          float* to = panel + long(kk) * NR;
          if (b.colStride == 1) memcpy(to, from, sizeof(float) * cols);
          else
            for (int j = 0; j < cols; j++) to[j] = from[j * b.colStride];
          for (int j = cols; j < NR; j++) to[j] = 0.f;
        }
      }
      for (int m0 = 0; m0 < m; m0 += MC) {
        const int mc = m - m0 < MC ? m - m0 : MC;
        const int rowPanels = (mc + MR - 1) / MR;
        // a's rows m0 … m0+mc, columns k0 … k0+kc, as row panels: column kk of panel q is MR values.
        for (int q = 0; q < rowPanels; q++) {
          const int rows = mc - q * MR < MR ? mc - q * MR : MR;
          float* panel = ap + long(q) * kc * MR;
          const float* origin = ae + long(m0 + q * MR) * a.rowStride + long(k0) * a.colStride;
          for (int kk = 0; kk < kc; kk++) {
            const float* from = origin + kk * a.colStride;
            float* to = panel + long(kk) * MR;
            if (a.rowStride == 1) memcpy(to, from, sizeof(float) * rows);
            else
              for (int i = 0; i < rows; i++) to[i] = from[i * a.rowStride];
            for (int i = rows; i < MR; i++) to[i] = 0.f;
          }
        }
        for (int p = 0; p < colPanels; p++) {
          const float* bPanel = bp + long(p) * kc * NR;
          const int cols = n - p * NR < NR ? n - p * NR : NR;
          for (int q = 0; q < rowPanels; q++) {
            const float* aPanel = ap + long(q) * kc * MR;
            V acc[MR][NV];
            for (int i = 0; i < MR; i++)
              for (int v = 0; v < NV; v++) acc[i][v] = V{};
            for (int kk = 0; kk < kc; kk++) {
              V bv[NV];
              for (int v = 0; v < NV; v++) memcpy(&bv[v], bPanel + long(kk) * NR + W * v, sizeof(V));
              const float* av = aPanel + long(kk) * MR;
              for (int i = 0; i < MR; i++) {
                const V broadcast = V{} + av[i];
                for (int v = 0; v < NV; v++) acc[i][v] += broadcast * bv[v];
              }
            }
            const int rows = mc - q * MR < MR ? mc - q * MR : MR;
            for (int i = 0; i < rows; i++) {
              float row[NR];
              for (int v = 0; v < NV; v++) memcpy(row + W * v, &acc[i][v], sizeof(V));
              float* to = ce + long(m0 + q * MR + i) * n + p * NR;
              if (k0 == 0) memcpy(to, row, sizeof(float) * cols);
              else
                for (int j = 0; j < cols; j++) to[j] += row[j];
            }
          }
        }
      }
    }
  }
}

// ---- GELU, fused -------------------------------------------------------------------------------
// tiny-vlm's GELU (the tanh form, as x·sigmoid(2z), z = √(2/π)(x + 0.044715x³)) and its gradient
// in one pass each, where TensorFlow.js runs seven and ~twelve element-wise kernels over the MLP's
// activations.

constexpr float kGeluScale = 1.5957691216057308f;  // 2·√(2/π)
constexpr float kGeluCube = 0.044715f;

/**
 * e^x for each lane: Cephes' expf (range reduction by ln 2, degree-6 polynomial), ~1 ulp, over the
 * whole float range: subnormal down to 0 below ~−103.97, ∞ above ~88.72, NaN for NaN. 2ⁿ is
 * applied as two factors, 2^⌊n/2⌋ · 2^(n−⌊n/2⌋), so that both stay normal floats at either end.
 */
template <typename V>
inline __attribute__((always_inline)) V expOf(V x) {
  typedef int32_t I __attribute__((vector_size(sizeof(V))));
  // Clamped so that n stays in [−150, 129] (NaN passes through both).
  x = x > 89.f ? V{} + 89.f : x;
  x = x < -104.f ? V{} - 104.f : x;
  // n = round(x / ln 2) by the 1.5·2²³ trick (exact for |n| < 2²²).
  const V magic = V{} + 12582912.f;
  const V n = (x * 1.44269504088896341f + magic) - magic;
  const V r = x - n * 0.693359375f - n * -2.12194440e-4f;
  V p = V{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const V y = p * r * r + r + 1.f;
  const I whole = __builtin_convertvector(n, I);
  const I half = whole >> 1;
  const I bits[2] = {(half + 127) << 23, (whole - half + 127) << 23};
  V scale[2];
  memcpy(scale, bits, sizeof(scale));
  return y * scale[0] * scale[1];
}

/** The double vector as wide as W floats. */
template <int W>
struct DoublesOf {
  typedef double type __attribute__((vector_size(W * 4)));
};

/**
 * e^z for each lane in double: n = round(z / ln 2), r = z − n·ln 2 (ln 2 in two parts, fdlibm's),
 * e^r by Taylor's series to r¹³ (|r| ≤ 0.35: the first term left out is below 2⁻⁵⁴), times 2ⁿ as
 * two normal factors. Within ~2 ulp of Math.exp; 0 below ~−745, ∞ above ~709.8, NaN for NaN.
 */
template <typename D>
inline __attribute__((always_inline)) D expDouble(D z) {
  typedef int64_t I __attribute__((vector_size(sizeof(D))));
  z = z > 710. ? D{} + 710. : z;
  z = z < -746. ? D{} - 746. : z;
  // z / ln 2 + 1.5·2⁵² holds round(z / ln 2) in its low bits.
  const D magic = D{} + 6755399441055744.0;
  const D shifted = z * 1.4426950408889634 + magic;
  const D n = shifted - magic;
  I whole, magicBits;
  memcpy(&whole, &shifted, sizeof(D));
  memcpy(&magicBits, &magic, sizeof(D));
  whole -= magicBits;
  const D r = z - n * 6.93147180369123816490e-01 - n * 1.90821492927058770002e-10;
  constexpr double inverseFactorials[] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
                                          1.0 / 3628800.0,    1.0 / 362880.0,    1.0 / 40320.0,
                                          1.0 / 5040.0,       1.0 / 720.0,       1.0 / 120.0,
                                          1.0 / 24.0,         1.0 / 6.0,         0.5,
                                          1.0,                1.0};
  D y = D{} + inverseFactorials[0];
  for (int i = 1; i < 14; i++) y = y * r + inverseFactorials[i];
  const I half = whole >> 1;
  const I bits[2] = {(half + 1023) << 52, (whole - half + 1023) << 52};
  D scale[2];
  memcpy(scale, bits, sizeof(scale));
  return y * scale[0] * scale[1];
}

/**
 * Runs lanes(in…, out) on W values at a time of `count`: whole vectors straight from the arrays,
 * the tail through zero-padded copies.
 */
template <int W, int Inputs, typename Lanes>
inline __attribute__((always_inline)) void elementwise(const float* const (&in)[Inputs], float* out, long count, Lanes lanes) {
  typedef typename VectorOf<W>::type V;
  V v[Inputs];
  long i = 0;
  for (; i + W <= count; i += W) {
    for (int j = 0; j < Inputs; j++) memcpy(&v[j], in[j] + i, sizeof(V));
    const V result = lanes(v);
    memcpy(out + i, &result, sizeof(V));
  }
  if (i == count) return;
  float padded[Inputs][W] = {}, result[W];
  for (int j = 0; j < Inputs; j++) {
    memcpy(padded[j], in[j] + i, sizeof(float) * (count - i));
    memcpy(&v[j], padded[j], sizeof(V));
  }
  const V last = lanes(v);
  memcpy(result, &last, sizeof(V));
  memcpy(out + i, result, sizeof(float) * (count - i));
}

/** y = x·sigmoid(2z). */
template <int W>
inline __attribute__((always_inline)) void geluBody(const float* x, float* y, long count) {
  typedef typename VectorOf<W>::type V;
  const float* const in[1] = {x};
  elementwise<W, 1>(in, y, count, [](const V* v) {
    const V z = v[0] * (1.f + kGeluCube * v[0] * v[0]) * kGeluScale;
    return v[0] / (1.f + expOf(-z));
  });
}

/** dx = dy · d/dx [x·s], s = sigmoid(2z): dy · (s + x·s(1−s)·2z'), 2z' = 2√(2/π)(1 + 3·0.044715x²). */
template <int W>
inline __attribute__((always_inline)) void geluGradBody(const float* x, const float* dy, float* dx, long count) {
  typedef typename VectorOf<W>::type V;
  const float* const in[2] = {x, dy};
  elementwise<W, 2>(in, dx, count, [](const V* v) {
    const V square = v[0] * v[0];
    const V s = 1.f / (1.f + expOf(-(v[0] * (1.f + kGeluCube * square) * kGeluScale)));
    const V slope = (1.f + 3.f * kGeluCube * square) * kGeluScale;
    return v[1] * (s + v[0] * s * (1.f - s) * slope);
  });
}

// ---- e^x ----------------------------------------------------------------------------------------
// The wasm backend's Exp runs ~6 ns a value (a scalar expf per value); a GRPO step of a model with
// Qwen's 151,936-word vocabulary takes e^x of every logit in its log-softmaxes.

template <int W>
inline __attribute__((always_inline)) void expBody(const float* x, float* y, long count) {
  typedef typename VectorOf<W>::type V;
  const float* const in[1] = {x};
  elementwise<W, 1>(in, y, count, [](const V* v) { return expOf(v[0]); });
}

/**
 * The weights of drawing a token from logits/t (src/main/models/sampling.ts), in one pass after
 * finding the largest logit: w = e^z with z = x/t − max/t, and Σw, Σw·z, in double as JavaScript
 * computes them. out = [index of the first largest logit, max/t, Σw, Σw·z].
 */
template <int W>
inline __attribute__((always_inline)) void softmaxWeightsBody(const float* x, long count, double t, double* w,
                                                              double* out) {
  typedef typename DoublesOf<W>::type D;
  typedef float H __attribute__((vector_size(W * 2)));
  constexpr int L = W / 2;
  long best = 0;
  float largest = -INFINITY;
  for (long i = 0; i < count; i++)
    if (x[i] > largest) largest = x[i], best = i;
  const double max = double(largest) / t;
  D sum = {}, weighted = {};
  long i = 0;
  for (; i + L <= count; i += L) {
    H h;
    memcpy(&h, x + i, sizeof(H));
    const D z = __builtin_convertvector(h, D) / t - max;
    const D e = expDouble(z);
    memcpy(w + i, &e, sizeof(D));
    sum += e;
    weighted += e * z;
  }
  if (i < count) {
    H h = {};
    const long lanes = count - i;
    memcpy(&h, x + i, sizeof(float) * lanes);
    const D z = __builtin_convertvector(h, D) / t - max;
    D e = expDouble(z), ez = e * z;
    // The short last vector adds only its own lanes.
    for (long j = lanes; j < L; j++) e[j] = 0, ez[j] = 0;
    memcpy(w + i, &e, sizeof(double) * lanes);
    sum += e;
    weighted += ez;
  }
  out[0] = double(best), out[1] = max, out[2] = 0, out[3] = 0;
  for (int j = 0; j < L; j++) out[2] += sum[j], out[3] += weighted[j];
}

// ---- Layer norm, fused ---------------------------------------------------------------------------
// Over the last axis, as tf.moments and PyTorch compute it (biased variance, ε inside the root),
// forward in one pass over each row and backward in one: TensorFlow.js's composite runs ~10
// kernels forward and ~20 backward per layer norm. Mean and variance are summed in double.

/** A row's mean μ and 1/√(σ² + ε), summed in double. */
inline void rowMoments(const float* xr, long width, float eps, float* mean, float* rstd) {
  double sum = 0, squares = 0;
  for (long j = 0; j < width; j++) sum += xr[j];
  *mean = float(sum / width);
  for (long j = 0; j < width; j++) squares += double(xr[j] - *mean) * (xr[j] - *mean);
  *rstd = float(1.0 / std::sqrt(squares / width + eps));
}

/** y = (x − μ)/√(σ² + ε)·γ + β for each row of `width` values. */
void layerNormRows(const float* x, const float* gamma, const float* beta, float* y, long rows, long width, float eps) {
  for (long r = 0; r < rows; r++) {
    const float* xr = x + r * width;
    float* yr = y + r * width;
    float mean, rstd;
    rowMoments(xr, width, eps, &mean, &rstd);
    for (long j = 0; j < width; j++) yr[j] = (xr[j] - mean) * rstd * gamma[j] + beta[j];
  }
}

/**
 * With x̂ = (x − μ)·r and g = dy·γ: dx = r·(g − mean(g) − x̂·mean(g·x̂)); dγ = Σ_rows dy·x̂;
 * dβ = Σ_rows dy.
 */
void layerNormGradRows(const float* x, const float* gamma, const float* dy, float* dx, float* dgamma, float* dbeta,
                       long rows, long width, float eps) {
  std::vector<double> gammaSum(width, 0.0), betaSum(width, 0.0);
  std::vector<float> xhat(width);
  for (long r = 0; r < rows; r++) {
    const float* xr = x + r * width;
    const float* dyr = dy + r * width;
    float* dxr = dx + r * width;
    float mean, rstd;
    rowMoments(xr, width, eps, &mean, &rstd);
    double g = 0, gx = 0;
    for (long j = 0; j < width; j++) {
      xhat[j] = (xr[j] - mean) * rstd;
      const float gj = dyr[j] * gamma[j];
      g += gj;
      gx += double(gj) * xhat[j];
      gammaSum[j] += double(dyr[j]) * xhat[j];
      betaSum[j] += dyr[j];
    }
    const float gMean = float(g / width), gxMean = float(gx / width);
    for (long j = 0; j < width; j++) dxr[j] = rstd * (dyr[j] * gamma[j] - gMean - xhat[j] * gxMean);
  }
  for (long j = 0; j < width; j++) {
    dgamma[j] = float(gammaSum[j]);
    dbeta[j] = float(betaSum[j]);
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VRFT_X86 1
// 24 accumulators of 512 bits (12 × 32 floats), of 32 registers.
__attribute__((target("avx512f"))) void gemmAvx512(int batch, int m, int n, int k, Operand a, Operand b, float* c) {
  gemmBody<16, 12, 2>(batch, m, n, k, a, b, c);
}
__attribute__((target("avx512f"))) void geluAvx512(const float* x, float* y, long count) { geluBody<16>(x, y, count); }
__attribute__((target("avx512f"))) void geluGradAvx512(const float* x, const float* dy, float* dx, long count) {
  geluGradBody<16>(x, dy, dx, count);
}
__attribute__((target("avx512f"))) void expAvx512(const float* x, float* y, long count) { expBody<16>(x, y, count); }
__attribute__((target("avx512f"))) void softmaxWeightsAvx512(const float* x, long count, double t, double* w,
                                                             double* out) {
  softmaxWeightsBody<16>(x, count, t, w, out);
}
// 12 accumulators of 256 bits (6 × 16 floats), of 16 registers.
__attribute__((target("avx2,fma"))) void gemmAvx2(int batch, int m, int n, int k, Operand a, Operand b, float* c) {
  gemmBody<8, 6, 2>(batch, m, n, k, a, b, c);
}
__attribute__((target("avx2,fma"))) void geluAvx2(const float* x, float* y, long count) { geluBody<8>(x, y, count); }
__attribute__((target("avx2,fma"))) void geluGradAvx2(const float* x, const float* dy, float* dx, long count) {
  geluGradBody<8>(x, dy, dx, count);
}
__attribute__((target("avx2,fma"))) void expAvx2(const float* x, float* y, long count) { expBody<8>(x, y, count); }
__attribute__((target("avx2,fma"))) void softmaxWeightsAvx2(const float* x, long count, double t, double* w,
                                                            double* out) {
  softmaxWeightsBody<8>(x, count, t, w, out);
}
#endif
void geluBaseline(const float* x, float* y, long count) { geluBody<4>(x, y, count); }
void geluGradBaseline(const float* x, const float* dy, float* dx, long count) { geluGradBody<4>(x, dy, dx, count); }
void expBaseline(const float* x, float* y, long count) { expBody<4>(x, y, count); }
void softmaxWeightsBaseline(const float* x, long count, double t, double* w, double* out) {
  softmaxWeightsBody<4>(x, count, t, w, out);
}
#if defined(__aarch64__)
// 16 accumulators of 128 bits (8 × 8 floats), of NEON's 32 registers.
void gemmBaseline(int batch, int m, int n, int k, Operand a, Operand b, float* c) {
  gemmBody<4, 8, 2>(batch, m, n, k, a, b, c);
}
#else
// 12 accumulators of 128 bits (6 × 8 floats), of SSE2's 16 registers.
void gemmBaseline(int batch, int m, int n, int k, Operand a, Operand b, float* c) {
  gemmBody<4, 6, 2>(batch, m, n, k, a, b, c);
}
#endif

// ---- The platform's BLAS, where it has a well-kept one --------------------------------------------
// Accelerate on macOS (its sgemm uses the AMX units of Apple silicon) and an OpenBLAS the system
// provides are loaded at run time, if present, as one more "instruction set": the load-time check
// (src/main/engine/nativeChoice.ts) times its product against ours and keeps the faster.

typedef void (*SgemmFn)(int order, int transA, int transB, int m, int n, int k, float alpha, const float* a,
                        int lda, const float* b, int ldb, float beta, float* c, int ldc);
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

SgemmFn loadBlas() {
#if defined(_WIN32)
  return nullptr;
#else
  const char* candidates[] = {
#if defined(__APPLE__)
      "/System/Library/Frameworks/Accelerate.framework/Accelerate",
#endif
      "libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"};
  for (const char* name : candidates) {
    void* library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!library) continue;
    const auto sgemm = reinterpret_cast<SgemmFn>(dlsym(library, "cblas_sgemm"));
    if (!sgemm) continue;
    // One thread: each of vrft's processes (the trainer, its gradient worker) owns one core.
    if (const auto threads = reinterpret_cast<void (*)(int)>(dlsym(library, "openblas_set_num_threads")))
      threads(1);
    return sgemm;
  }
  return nullptr;
#endif
}

const SgemmFn blasSgemm = loadBlas();
using GemmFn = void (*)(int, int, int, int, Operand, Operand, float*);
using GeluFn = void (*)(const float*, float*, long);
using GeluGradFn = void (*)(const float*, const float*, float*, long);
using ExpFn = void (*)(const float*, float*, long);
using SoftmaxWeightsFn = void (*)(const float*, long, double, double*, double*);

/** Every kernel on one instruction set. */
struct Choice {
  GemmFn gemm;
  GeluFn gelu;
  GeluGradFn geluGrad;
  ExpFn exp;
  SoftmaxWeightsFn softmaxWeights;
  const char* isa;
};

#ifdef VRFT_X86
const Choice avx512 = {gemmAvx512, geluAvx512, geluGradAvx512, expAvx512, softmaxWeightsAvx512, "avx512f"};
const Choice avx2 = {gemmAvx2, geluAvx2, geluGradAvx2, expAvx2, softmaxWeightsAvx2, "avx2"};
#endif

Choice choose() {
#ifdef VRFT_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return avx2;
  return {gemmBaseline, geluBaseline, geluGradBaseline, expBaseline, softmaxWeightsBaseline, "sse2"};
#elif defined(__aarch64__)
  return {gemmBaseline, geluBaseline, geluGradBaseline, expBaseline, softmaxWeightsBaseline, "neon"};
#else
  return {gemmBaseline, geluBaseline, geluGradBaseline, expBaseline, softmaxWeightsBaseline, "baseline"};
#endif
}

Choice chosen = choose();

/** The product by the platform's BLAS; an operand with neither stride 1 goes to our own. */
void gemmBlas(int batch, int m, int n, int k, Operand a, Operand b, float* c) {
  const bool aPlain = a.colStride == 1, bPlain = b.colStride == 1;
  if ((!aPlain && a.rowStride != 1) || (!bPlain && b.rowStride != 1)) return choose().gemm(batch, m, n, k, a, b, c);
  // Leading dimensions must be at least the stored rows' length.
  const long lda = aPlain ? (a.rowStride > k ? a.rowStride : k) : (a.colStride > m ? a.colStride : m);
  const long ldb = bPlain ? (b.rowStride > n ? b.rowStride : n) : (b.colStride > k ? b.colStride : k);
  for (int entry = 0; entry < batch; entry++)
    blasSgemm(kRowMajor, aPlain ? kNoTrans : kTrans, bPlain ? kNoTrans : kTrans, m, n, k, 1.f,
              a.data + entry * a.batchStride, int(lda), b.data + entry * b.batchStride, int(ldb), 0.f,
              c + long(entry) * m * n, n);
}


/** The product for an instruction set this CPU has, by name (tests run each one it has). */
bool chooseByName(const char* isa) {
  const Choice best = choose();
#ifdef VRFT_X86
  if (!strcmp(isa, "avx512f") && !strcmp(best.isa, "avx512f")) return chosen = best, true;
  if (!strcmp(isa, "avx2") && (!strcmp(best.isa, "avx512f") || !strcmp(best.isa, "avx2")))
    return chosen = avx2, true;
  if (!strcmp(isa, "sse2")) return chosen = {gemmBaseline, geluBaseline, geluGradBaseline, expBaseline, softmaxWeightsBaseline, "sse2"}, true;
#endif
  if (!strcmp(isa, best.isa)) return chosen = best, true;
  // The BLAS multiplies; the element-wise kernels stay on the widest ISA.
  if (!strcmp(isa, "blas") && blasSgemm)
    return chosen = {gemmBlas, best.gelu, best.geluGrad, best.exp, best.softmaxWeights, "blas"}, true;
  return false;
}

// ---- N-API glue -------------------------------------------------------------------------------

napi_value fail(napi_env env, const char* message) {
  napi_throw_type_error(env, nullptr, message);
  return nullptr;
}

/** The data and length (in values) of a typed array argument of the given type. */
template <typename T>
bool typedArray(napi_env env, napi_value value, napi_typedarray_type want, T** data, size_t* length) {
  bool is = false;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, nullptr, nullptr) != napi_ok) return false;
  *data = static_cast<T*>(raw);
  return type == want;
}

bool floats(napi_env env, napi_value value, float** data, size_t* length) {
  return typedArray(env, value, napi_float32_array, data, length);
}

bool integer(napi_env env, napi_value value, int64_t* out) {
  return napi_get_value_int64(env, value, out) == napi_ok;
}

/**
 * gemm(a, b, c, batch, m, n, k, aBatch, aRow, aCol, bBatch, bRow, bCol): for each batch entry e,
 * c[e·m·n + i·n + j] = Σ_kk a[e·aBatch + i·aRow + kk·aCol] · b[e·bBatch + kk·bRow + j·bCol].
 * Strides are in values; a batch stride of 0 shares that operand across the batch.
 */
napi_value GemmCall(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value args[13];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  if (argc != 13) return fail(env, "gemm takes 13 arguments");
  float *a, *b, *c;
  size_t aLength, bLength, cLength;
  if (!floats(env, args[0], &a, &aLength) || !floats(env, args[1], &b, &bLength) ||
      !floats(env, args[2], &c, &cLength))
    return fail(env, "gemm: a, b and c must be Float32Arrays");
  int64_t d[10];
  for (int i = 0; i < 10; i++)
    if (!integer(env, args[3 + i], &d[i])) return fail(env, "gemm: sizes and strides must be numbers");
  const int64_t batch = d[0], m = d[1], n = d[2], k = d[3];
  if (batch < 0 || m < 0 || n < 0 || k < 0) return fail(env, "gemm: negative size");
  for (int i = 4; i < 10; i++)
    if (d[i] < 0) return fail(env, "gemm: negative stride");
  if (batch == 0 || m == 0 || n == 0) return nullptr;
  if (size_t(batch * m * n) > cLength) return fail(env, "gemm: c is too short");
  if (k == 0) {
    memset(c, 0, sizeof(float) * batch * m * n);
    return nullptr;
  }
  // The last value each operand's strides reach must lie inside it.
  const int64_t aLast = (batch - 1) * d[4] + (m - 1) * d[5] + (k - 1) * d[6];
  const int64_t bLast = (batch - 1) * d[7] + (k - 1) * d[8] + (n - 1) * d[9];
  if (aLast >= int64_t(aLength) || bLast >= int64_t(bLength)) return fail(env, "gemm: a stride reads past an operand");
  chosen.gemm(int(batch), int(m), int(n), int(k), Operand{a, long(d[4]), long(d[5]), long(d[6])},
              Operand{b, long(d[7]), long(d[8]), long(d[9])}, c);
  return nullptr;
}

/** A convolution's NHWC geometry (dilations 1), as the Int32Array the calls below take. */
struct Conv {
  int batch, inH, inW, inC, outH, outW, kH, kW, strideH, strideW, padTop, padLeft;
};

bool convGeometry(napi_env env, napi_value value, Conv* conv) {
  int32_t* v;
  size_t length;
  if (!typedArray(env, value, napi_int32_array, &v, &length) || length != 12) return false;
  for (int i = 0; i < 12; i++)
    if (v[i] < 0) return false;
  memcpy(conv, v, sizeof(Conv));
  return conv->strideH > 0 && conv->strideW > 0;
}

/**
 * Calls visit(to, from) for each output pixel (row `to` of the [pixels, kH·kW·inC] im2col, at the
 * tap's columns) and each filter tap: `from` is the input pixel's channels, or -1 for padding.
 */
template <typename Visit>
void forEachTap(const Conv& g, Visit visit) {
  const long taps = long(g.kH) * g.kW * g.inC;
  long pixel = 0;
  for (int b = 0; b < g.batch; b++)
    for (int oy = 0; oy < g.outH; oy++)
      for (int ox = 0; ox < g.outW; ox++, pixel++)
        for (int ky = 0; ky < g.kH; ky++) {
          const int iy = oy * g.strideH + ky - g.padTop;
          for (int kx = 0; kx < g.kW; kx++) {
            const int ix = ox * g.strideW + kx - g.padLeft;
            const long to = pixel * taps + (long(ky) * g.kW + kx) * g.inC;
            const bool inside = iy >= 0 && iy < g.inH && ix >= 0 && ix < g.inW;
            visit(to, inside ? ((long(b) * g.inH + iy) * g.inW + ix) * g.inC : -1);
          }
        }
}

/**
 * name(image, cols, geometry): parses and checks the arguments, then body(image, cols, g). `image`
 * is x or dx [batch, inH, inW, inC], `cols` the im2col [pixels, kH·kW·inC].
 */
template <typename Body>
napi_value convCall(napi_env env, napi_callback_info info, const char* usage, Body body) {
  size_t argc = 3;
  napi_value args[3];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  float *image, *cols;
  size_t imageLength, colsLength;
  Conv g;
  if (argc != 3 || !floats(env, args[0], &image, &imageLength) || !floats(env, args[1], &cols, &colsLength) ||
      !convGeometry(env, args[2], &g))
    return fail(env, usage);
  const long pixels = long(g.batch) * g.outH * g.outW;
  if (size_t(long(g.batch) * g.inH * g.inW * g.inC) > imageLength || size_t(pixels * g.kH * g.kW * g.inC) > colsLength)
    return fail(env, usage);
  body(image, cols, g);
  return nullptr;
}

/** im2col(x, cols, geometry): cols[pixel, (ky·kW + kx)·inC + ci] = x at that tap, 0 in padding. */
napi_value Im2col(napi_env env, napi_callback_info info) {
  return convCall(env, info, "im2col(x: Float32Array, cols: Float32Array, geometry: Int32Array(12)) with room for both",
                  [](float* x, float* cols, const Conv& g) {
                    forEachTap(g, [&](long to, long from) {
                      if (from < 0) memset(cols + to, 0, sizeof(float) * g.inC);
                      else memcpy(cols + to, x + from, sizeof(float) * g.inC);
                    });
                  });
}

/** col2im(dx, cols, geometry): dx = Σ over taps of cols scattered back to the pixels they read. */
napi_value Col2im(napi_env env, napi_callback_info info) {
  return convCall(env, info, "col2im(dx: Float32Array, cols: Float32Array, geometry: Int32Array(12)) with room for both",
                  [](float* dx, float* cols, const Conv& g) {
                    memset(dx, 0, sizeof(float) * long(g.batch) * g.inH * g.inW * g.inC);
                    forEachTap(g, [&](long from, long to) {
                      if (to < 0) return;
                      for (int c = 0; c < g.inC; c++) dx[to + c] += cols[from + c];
                    });
                  });
}

/** gelu(x, y): y = GELU(x) (tanh form); geluGrad(x, dy, dx): dx = dy · GELU'(x). Same lengths. */
napi_value GeluCall(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  float *x, *y;
  size_t xLength, yLength;
  if (argc != 2 || !floats(env, args[0], &x, &xLength) || !floats(env, args[1], &y, &yLength) || yLength < xLength)
    return fail(env, "gelu(x: Float32Array, y: Float32Array) with y as long as x");
  chosen.gelu(x, y, long(xLength));
  return nullptr;
}

napi_value GeluGradCall(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  float *x, *dy, *dx;
  size_t xLength, dyLength, dxLength;
  if (argc != 3 || !floats(env, args[0], &x, &xLength) || !floats(env, args[1], &dy, &dyLength) ||
      !floats(env, args[2], &dx, &dxLength) || dyLength < xLength || dxLength < xLength)
    return fail(env, "geluGrad(x, dy, dx: Float32Array) with dy and dx as long as x");
  chosen.geluGrad(x, dy, dx, long(xLength));
  return nullptr;
}

/** exp(x, y): y = e^x, y as long as x. */
napi_value ExpCall(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  float *x, *y;
  size_t xLength, yLength;
  if (argc != 2 || !floats(env, args[0], &x, &xLength) || !floats(env, args[1], &y, &yLength) || yLength < xLength)
    return fail(env, "exp(x: Float32Array, y: Float32Array) with y as long as x");
  chosen.exp(x, y, long(xLength));
  return nullptr;
}

/**
 * softmaxWeights(logits: Float32Array, t, weights: Float64Array, out: Float64Array(4)): weights =
 * e^(x/t − max/t); out = [index of the first largest logit, max/t, Σ weights, Σ weight·(x/t − max/t)].
 */
napi_value SoftmaxWeightsCall(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value args[4];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  float* x;
  double *w, *out, t;
  size_t xLength, wLength, outLength;
  if (argc != 4 || !floats(env, args[0], &x, &xLength) || napi_get_value_double(env, args[1], &t) != napi_ok ||
      !typedArray(env, args[2], napi_float64_array, &w, &wLength) ||
      !typedArray(env, args[3], napi_float64_array, &out, &outLength) || wLength < xLength || outLength < 4)
    return fail(env,
                "softmaxWeights(logits: Float32Array, t: number, weights: Float64Array as long, out: Float64Array(4))");
  chosen.softmaxWeights(x, long(xLength), t, w, out);
  return nullptr;
}

/**
 * The arguments of a row-wise call: N Float32Arrays, then width and eps. rows[i] says whether
 * array i holds whole rows (as long as the first, a multiple of width) or one value per column.
 */
template <int N>
bool rowArguments(napi_env env, napi_callback_info info, const bool (&rows)[N], float* (&arrays)[N], long* count,
                  long* width, float* eps) {
  size_t argc = N + 2;
  napi_value args[N + 2];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  int64_t w;
  double e;
  if (argc != N + 2 || !integer(env, args[N], &w) || w <= 0 || napi_get_value_double(env, args[N + 1], &e) != napi_ok)
    return false;
  size_t first = 0;
  for (int i = 0; i < N; i++) {
    size_t length;
    if (!floats(env, args[i], &arrays[i], &length)) return false;
    if (i == 0) first = length;
    if (length < (rows[i] ? first : size_t(w))) return false;
  }
  if (first % w != 0) return false;
  *count = long(first / w), *width = long(w), *eps = float(e);
  return true;
}

/**
 * layerNorm(x, gamma, beta, y, width, eps) over rows of `width`; layerNormGrad(x, gamma, dy, dx,
 * dgamma, dbeta, width, eps). x, y, dy, dx hold whole rows; gamma, beta, dgamma, dbeta `width`.
 */
napi_value LayerNormCall(napi_env env, napi_callback_info info) {
  float* a[4];
  long rows, width;
  float eps;
  if (!rowArguments<4>(env, info, {true, false, false, true}, a, &rows, &width, &eps))
    return fail(env, "layerNorm(x, gamma, beta, y: Float32Array, width, eps): x and y whole rows, gamma and beta width long");
  layerNormRows(a[0], a[1], a[2], a[3], rows, width, eps);
  return nullptr;
}

napi_value LayerNormGradCall(napi_env env, napi_callback_info info) {
  float* a[6];
  long rows, width;
  float eps;
  if (!rowArguments<6>(env, info, {true, false, true, true, false, false}, a, &rows, &width, &eps))
    return fail(env,
                "layerNormGrad(x, gamma, dy, dx, dgamma, dbeta: Float32Array, width, eps): x, dy, dx whole rows, the "
                "rest width long");
  layerNormGradRows(a[0], a[1], a[2], a[3], a[4], a[5], rows, width, eps);
  return nullptr;
}

/** isa(): the instruction set in use; isa(name): use that one if this CPU has it, else throw. */
napi_value Isa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr);
  if (argc == 1) {
    char name[16] = {0};
    size_t length = 0;
    if (napi_get_value_string_utf8(env, arg, name, sizeof(name), &length) != napi_ok || !chooseByName(name))
      return fail(env, "isa: not an instruction set this CPU has (avx512f, avx2, sse2, neon; blas where loaded)");
  }
  napi_value out;
  napi_create_string_utf8(env, chosen.isa, NAPI_AUTO_LENGTH, &out);
  return out;
}

void exportFunction(napi_env env, napi_value exports, const char* name, napi_callback call) {
  napi_value function;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, call, nullptr, &function);
  napi_set_named_property(env, exports, name, function);
}

}  // namespace

NAPI_MODULE_INIT() {
  exportFunction(env, exports, "gemm", GemmCall);
  exportFunction(env, exports, "im2col", Im2col);
  exportFunction(env, exports, "col2im", Col2im);
  exportFunction(env, exports, "gelu", GeluCall);
  exportFunction(env, exports, "geluGrad", GeluGradCall);
  exportFunction(env, exports, "exp", ExpCall);
  exportFunction(env, exports, "softmaxWeights", SoftmaxWeightsCall);
  exportFunction(env, exports, "layerNorm", LayerNormCall);
  exportFunction(env, exports, "layerNormGrad", LayerNormGradCall);
  exportFunction(env, exports, "isa", Isa);
  return exports;
}
