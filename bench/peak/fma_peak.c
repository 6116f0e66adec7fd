// Peak single-precision FMA throughput of one core: the "limit" that scripts/bench-cpu.sh prints
// beside its GFLOP/s (512-bit, AVX-512) and that the browser figures compare with (128-bit, the
// width of WebAssembly SIMD). Independent accumulator chains, enough to cover the FMA latency on
// two ports: 16 for 512-bit (32 zmm registers), 12 for 256/128-bit (16 ymm/xmm registers; more
// chains would spill). Prints GFLOP/s = chains × lanes × 2 × iterations / seconds, 3 times.
//
// Build and run: cc -O2 -o fma_peak bench/peak/fma_peak.c && ./fma_peak
// The machine's peak: one copy per core at the same time (scripts/bench-cpu.sh does this).
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// Keeps the accumulators alive without printing them.
static volatile float sink;

#define RUN(NAME, TARGET, VEC, SET1, FMA, LANES, CHAINS)                           \
  __attribute__((target(TARGET))) static double NAME(long iters) {                \
    VEC acc[CHAINS];                                                              \
    VEC a = SET1(0.999999f), b = SET1(1e-7f);                                     \
    for (int i = 0; i < CHAINS; i++) acc[i] = SET1((float)i);                     \
    double t0 = now();                                                            \
    for (long n = 0; n < iters; n++) {                                            \
      _Pragma("GCC unroll 16") for (int i = 0; i < CHAINS; i++) acc[i] = FMA(acc[i], a, b); \
    }                                                                             \
    double t = now() - t0;                                                        \
    float out[LANES];                                                             \
    for (int i = 0; i < CHAINS; i++) {                                            \
      __builtin_memcpy(out, &acc[i], sizeof out);                                 \
      sink += out[0];                                                             \
    }                                                                             \
    return iters * (double)CHAINS * LANES * 2 / t / 1e9;                          \
  }

RUN(run512, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, 16, 16)
RUN(run256, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, 8, 12)
RUN(run128, "fma", __m128, _mm_set1_ps, _mm_fmadd_ps, 4, 12)

int main(int argc, char **argv) {
  long iters = argc > 1 ? atol(argv[1]) : 100000000L;
  int has512 = __builtin_cpu_supports("avx512f"), has_fma = __builtin_cpu_supports("fma");
  if (!has_fma) {
    puts("no FMA on this CPU");
    return 1;
  }
  for (int r = 0; r < 3; r++) {
    printf("one core, GFLOP/s: 512-bit FMA %.1f, 256-bit %.1f, 128-bit %.1f\n",
           has512 ? run512(iters) : 0.0, run256(iters), run128(iters));
  }
  return 0;
}
