//! Single-threaded f32 matrix products for the WebAssembly CPU path (the site's scan workers),
//! written for 128-bit SIMD: a 4 × 8 register tile (8 accumulators, two 4-lane `B` vectors and
//! one broadcast `A` value), which fits the 15 vector registers V8 allocates on x86-64; the
//! gemm crate's 12 × 4 wasm tile needs 16 and spills (27 vs 34 GFLOP/s in a micro-benchmark on
//! this project's machine, node 20). With the `relaxed-simd` target feature the tile uses fused
//! multiply-add (`f32x4.relaxed_madd`), else a multiply and an add.
//!
//! One kernel serves the dense convolutions and the matrix products:
//! `C[i, j] (+)= Σ_{c < channels} Σ_{t < taps} A[i, c·taps + t] · B[c·ldb + t·tstride + j]`.
//! A 'same' convolution is `taps = k` over a zero-padded input (`tstride = 1`: tap `t` reads
//! the window shifted by `t`); a plain product is `taps = 1`. Nothing is packed: `A` (weights or
//! activations, row-major) is read by broadcast loads from four rows, `B` by whole vectors along
//! its rows.
//!
//! Native builds run the same code on 4-element arrays (the unit tests below); native inference
//! uses burn-flex's AVX-512 products instead.

/// Rows of the register tile (broadcast `A` values).
pub const MR: usize = 4;
/// Columns of the register tile (two 4-lane vectors).
pub const NR: usize = 8;
/// `channels · taps` per pass over a tile, so the `B` panel (`KC × NR` floats, 8 KiB) stays in
/// the L1 cache while every row panel of `A` streams past it.
const KC: usize = 256;
/// Rows of `A` per block: `MC × KC` floats (64 KiB) stay in the L2 cache while the `B` panels
/// pass.
const MC: usize = 64;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod lanes {
    use core::arch::wasm32::*;
    pub type V = v128;
    #[inline(always)]
    pub fn zero() -> V {
        f32x4_splat(0.0)
    }
    #[inline(always)]
    pub unsafe fn load(p: *const f32) -> V {
        v128_load(p as *const v128)
    }
    #[inline(always)]
    pub unsafe fn splat(p: *const f32) -> V {
        v128_load32_splat(p as *const u32)
    }
    #[inline(always)]
    pub unsafe fn store(p: *mut f32, v: V) {
        v128_store(p as *mut v128, v)
    }
    #[inline(always)]
    pub fn add(a: V, b: V) -> V {
        f32x4_add(a, b)
    }
    /// `a·b + c`.
    #[inline(always)]
    pub fn madd(a: V, b: V, c: V) -> V {
        #[cfg(target_feature = "relaxed-simd")]
        {
            f32x4_relaxed_madd(a, b, c)
        }
        #[cfg(not(target_feature = "relaxed-simd"))]
        {
            f32x4_add(f32x4_mul(a, b), c)
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod lanes {
    pub type V = [f32; 4];
    #[inline(always)]
    pub fn zero() -> V {
        [0.0; 4]
    }
    #[inline(always)]
    pub unsafe fn load(p: *const f32) -> V {
        std::ptr::read_unaligned(p as *const V)
    }
    #[inline(always)]
    pub unsafe fn splat(p: *const f32) -> V {
        [*p; 4]
    }
    #[inline(always)]
    pub unsafe fn store(p: *mut f32, v: V) {
        std::ptr::write_unaligned(p as *mut V, v)
    }
    #[inline(always)]
    pub fn add(a: V, b: V) -> V {
        std::array::from_fn(|i| a[i] + b[i])
    }
    #[inline(always)]
    pub fn madd(a: V, b: V, c: V) -> V {
        std::array::from_fn(|i| a[i] * b[i] + c[i])
    }
}


/// The `B` operand: element `(c, t, j)` is at `data[(j / NR)·pstride + c·ldb + t·tstride + j %
/// NR]`. Every row must be readable for the column count rounded up to [`NR`] (pad with
/// zeros): the kernel reads whole vectors and drops the extra columns.
#[derive(Clone, Copy, Debug)]
pub struct BOperand<'a> {
    /// Backing store.
    pub data: &'a [f32],
    /// Stride between channels `c`.
    pub ldb: usize,
    /// Stride between taps `t` (1 for a convolution's shifted windows).
    pub tstride: usize,
    /// Stride between column panels of [`NR`] columns.
    pub pstride: usize,
}

impl<'a> BOperand<'a> {
    /// A row-major `k × n` matrix with row stride `ld` (rows readable to `padded(n)`).
    pub fn rows(data: &'a [f32], ld: usize) -> Self {
        Self { data, ldb: ld, tstride: 0, pstride: NR }
    }

    /// A matrix laid out by [`pack_b`] with `k` rows.
    pub fn packed(data: &'a [f32], k: usize) -> Self {
        Self { data, ldb: NR, tstride: 0, pstride: k * NR }
    }
}

/// Packs a row-major `k × n` matrix (row stride `ld`) into column panels of [`NR`] columns, each
/// `k × NR` contiguous, zero-padded to `padded(n)` columns: every panel row then shares no cache
/// set with the next (a row stride of a large power-of-two multiple thrashes the L1 cache).
pub fn pack_b(b: &[f32], k: usize, n: usize, ld: usize) -> Vec<f32> {
    let panels = n.div_ceil(NR);
    let mut out = vec![0f32; panels * k * NR];
    for (p, panel) in out.chunks_exact_mut(k * NR).enumerate() {
        let (j0, w) = (p * NR, NR.min(n - p * NR));
        for (r, dst) in panel.chunks_exact_mut(NR).enumerate() {
            dst[..w].copy_from_slice(&b[r * ld + j0..r * ld + j0 + w]);
        }
    }
    out
}

/// [`pack_b`] of the transpose of a row-major `n × k` matrix with row stride `ld` (a PyTorch
/// `(out, in)` weight used as `x·Wᵀ`, or attention's keys).
pub fn pack_b_transposed(w: &[f32], n: usize, k: usize, ld: usize) -> Vec<f32> {
    let panels = n.div_ceil(NR);
    let mut out = vec![0f32; panels * k * NR];
    for j in 0..n {
        let panel = &mut out[(j / NR) * k * NR..];
        for (r, v) in w[j * ld..j * ld + k].iter().enumerate() {
            panel[r * NR + j % NR] = *v;
        }
    }
    out
}

/// `C = A·B` (or `C += A·B` with `accumulate`) over `channels × taps` reduction terms, for an
/// `m × n` block of `C` (row-major, row stride `ldc`); `A` is `m × (channels·taps)` row-major with
/// row stride `lda`.
///
/// # Panics
/// When a slice is too short for the shapes and strides given (a programming error: every caller
/// sizes its buffers from the same shapes).
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    n: usize,
    channels: usize,
    taps: usize,
    a: &[f32],
    lda: usize,
    b: BOperand<'_>,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    let k = channels * taps;
    assert!(k == 0 || (m - 1) * lda + k <= a.len(), "gemm: A is too short");
    assert!((m - 1) * ldc + n <= c.len(), "gemm: C is too short");
    let n_pad = n.div_ceil(NR) * NR;
    if channels > 0 && taps > 0 {
        let last = (n_pad / NR - 1) * b.pstride + (channels - 1) * b.ldb + (taps - 1) * b.tstride + NR;
        assert!(last <= b.data.len(), "gemm: B is too short ({last} > {})", b.data.len());
    }
    if k == 0 {
        if !accumulate {
            (0..m).for_each(|i| c[i * ldc..i * ldc + n].fill(0.0));
        }
        return;
    }
    let chunk = (KC / taps).max(1);
    let mut c0 = 0;
    while c0 < channels {
        let cn = chunk.min(channels - c0);
        let acc = accumulate || c0 > 0;
        for ib in (0..m).step_by(MC) {
          for j0 in (0..n).step_by(NR) {
            let cols = NR.min(n - j0);
            for i0 in (ib..m.min(ib + MC)).step_by(MR) {
                let rows = MR.min(m - i0);
                // SAFETY: the asserts above bound every row (i0..i0+rows) of A over the
                // reduction terms [c0·taps, (c0+cn)·taps), every B row read (NR columns)
                // of its panel, and every C element written (rows × cols).
                unsafe {
                    tile(
                        cn,
                        taps,
                        a.as_ptr().add(i0 * lda + c0 * taps),
                        lda,
                        rows,
                        b.data.as_ptr().add((j0 / NR) * b.pstride + c0 * b.ldb),
                        b.ldb,
                        b.tstride,
                        c.as_mut_ptr().add(i0 * ldc + j0),
                        ldc,
                        cols,
                        acc,
                    );
                }
            }
          }
        }
        c0 += cn;
    }
}

/// One `rows × cols` (≤ 4 × 8) tile of `C`. Missing rows read row 0 of `A` and are not stored.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn tile(
    channels: usize,
    taps: usize,
    a: *const f32,
    lda: usize,
    rows: usize,
    b: *const f32,
    ldb: usize,
    ts: usize,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    acc: bool,
) {
    let row = |r: usize| if r < rows { a.add(r * lda) } else { a };
    let (a0, a1, a2, a3) = (row(0), row(1), row(2), row(3));
    let z = lanes::zero();
    let mut s = [[z; 2]; MR];
    let mut step = |kk: usize, bp: *const f32| {
        let (b0, b1) = (lanes::load(bp), lanes::load(bp.add(4)));
        for (r, ar) in [a0, a1, a2, a3].into_iter().enumerate() {
            let x = lanes::splat(ar.add(kk));
            s[r][0] = lanes::madd(x, b0, s[r][0]);
            s[r][1] = lanes::madd(x, b1, s[r][1]);
        }
    };
    if taps == 1 {
        for ch in 0..channels {
            step(ch, b.add(ch * ldb));
        }
    } else {
        let mut kk = 0;
        for ch in 0..channels {
            let bc = b.add(ch * ldb);
            for t in 0..taps {
                step(kk, bc.add(t * ts));
                kk += 1;
            }
        }
    }
    if cols == NR {
        for (r, sr) in s.iter().enumerate().take(rows) {
            let cp = c.add(r * ldc);
            let (v0, v1) = if acc {
                (lanes::add(sr[0], lanes::load(cp)), lanes::add(sr[1], lanes::load(cp.add(4))))
            } else {
                (sr[0], sr[1])
            };
            lanes::store(cp, v0);
            lanes::store(cp.add(4), v1);
        }
    } else {
        let mut buf = [0f32; NR];
        for (r, sr) in s.iter().enumerate().take(rows) {
            lanes::store(buf.as_mut_ptr(), sr[0]);
            lanes::store(buf.as_mut_ptr().add(4), sr[1]);
            let cp = c.add(r * ldc);
            for (j, v) in buf.iter().enumerate().take(cols) {
                *cp.add(j) = if acc { *cp.add(j) + v } else { *v };
            }
        }
    }
}

/// `x (rows × cols)` row-major → `xᵀ (cols × ld)` with zero columns `rows..ld` (`ld ≥ rows`), so
/// the transpose can be a [`BOperand`] (rows readable to a multiple of [`NR`]).
pub fn transpose_padded(x: &[f32], rows: usize, cols: usize, ld: usize) -> Vec<f32> {
    let mut t = vec![0f32; cols * ld];
    for (i, r) in x.chunks_exact(cols).take(rows).enumerate() {
        for (j, v) in r.iter().enumerate() {
            t[j * ld + i] = *v;
        }
    }
    t
}

/// `n` rounded up to a multiple of [`NR`].
pub fn padded(n: usize) -> usize {
    n.div_ceil(NR) * NR
}

/// 'Same' convolution of one sample, stride 1, by [`gemm`]: input channels `rows` (each `len`
/// values and a factor it is scaled by, e.g. a squeeze-excitation gate; a concatenation of
/// inputs is their rows in turn), weight `(c_out, c_in, k)` PyTorch layout, optional bias
/// `(c_out)` → `out (c_out × len)`. `scratch` (the zero-padded input) is reused between calls.
#[allow(clippy::too_many_arguments)]
pub fn conv1d_same<'a>(
    rows: impl Iterator<Item = (&'a [f32], f32)>,
    c_in: usize,
    len: usize,
    w: &[f32],
    c_out: usize,
    k: usize,
    bias: Option<&[f32]>,
    out: &mut [f32],
    scratch: &mut Vec<f32>,
) {
    let pad = (k - 1) / 2;
    let lp = padded(len) + k - 1;
    scratch.clear();
    scratch.resize(c_in * lp, 0.0);
    for (ci, (row, scale)) in rows.take(c_in).enumerate() {
        let dst = &mut scratch[ci * lp + pad..ci * lp + pad + len];
        if scale == 1.0 {
            dst.copy_from_slice(&row[..len]);
        } else {
            dst.iter_mut().zip(row).for_each(|(d, v)| *d = v * scale);
        }
    }
    let accumulate = if let Some(bias) = bias {
        for (o, bv) in out.chunks_exact_mut(len).zip(bias) {
            o.fill(*bv);
        }
        true
    } else {
        false
    };
    let b = BOperand { data: scratch, ldb: lp, tstride: 1, pstride: NR };
    gemm(c_out, len, c_in, k, w, c_in * k, b, out, len, accumulate);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }

    #[test]
    fn gemm_equals_naive_products_on_ragged_shapes() {
        let mut seed = 7;
        // m, n, k not multiples of the tile; k above KC to cross a chunk boundary.
        for &(m, n, k) in &[(1, 1, 1), (5, 9, 3), (7, 150, 300), (13, 17, 513), (4, 8, 256)] {
            let a: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
            let ld = padded(n) + 3;
            let b: Vec<f32> = (0..k * ld).map(|_| lcg(&mut seed)).collect();
            let c0: Vec<f32> = (0..m * n).map(|_| lcg(&mut seed)).collect();
            for accumulate in [false, true] {
                let packed = pack_b(&b, k, n, ld);
                let bt = transpose_padded(&b, k, ld, k); // (ld × k): a PyTorch-layout weight
                let packed_t = pack_b_transposed(&bt, n, k, k);
                assert_eq!(packed, packed_t);
                let mut c = c0.clone();
                gemm(m, n, k, 1, &a, k, BOperand::packed(&packed, k), &mut c, n, accumulate);
                let mut c_rows = c0.clone();
                gemm(m, n, k, 1, &a, k, BOperand::rows(&b, ld), &mut c_rows, n, accumulate);
                assert_eq!(c, c_rows);
                for i in 0..m {
                    for j in 0..n {
                        let mut want = if accumulate { c0[i * n + j] as f64 } else { 0.0 };
                        for kk in 0..k {
                            want += a[i * k + kk] as f64 * b[kk * ld + j] as f64;
                        }
                        let got = c[i * n + j] as f64;
                        assert!((got - want).abs() < 1e-4, "({m},{n},{k}) C[{i},{j}] = {got}, want {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn conv1d_same_equals_direct_sum() {
        let mut seed = 11;
        for &(c_in, c_out, len, k) in &[(3, 5, 19, 7), (6, 9, 150, 9), (40, 6, 13, 15), (2, 3, 8, 1)] {
            let x: Vec<f32> = (0..c_in * len).map(|_| lcg(&mut seed)).collect();
            let w: Vec<f32> = (0..c_out * c_in * k).map(|_| lcg(&mut seed)).collect();
            let bias: Vec<f32> = (0..c_out).map(|_| lcg(&mut seed)).collect();
            let mut out = vec![f32::NAN; c_out * len];
            let mut scratch = Vec::new();
            conv1d_same(x.chunks_exact(len).map(|r| (r, 1.0)), c_in, len, &w, c_out, k, Some(&bias), &mut out, &mut scratch);
            let pad = (k - 1) as isize / 2;
            for co in 0..c_out {
                for t in 0..len {
                    let mut want = bias[co] as f64;
                    for ci in 0..c_in {
                        for j in 0..k {
                            let p = t as isize + j as isize - pad;
                            if p >= 0 && (p as usize) < len {
                                want += w[(co * c_in + ci) * k + j] as f64 * x[ci * len + p as usize] as f64;
                            }
                        }
                    }
                    let got = out[co * len + t] as f64;
                    assert!((got - want).abs() < 1e-4, "conv ({c_in},{c_out},{len},{k}) [{co},{t}] {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn transpose_pads_with_zeros() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 × 3
        let t = transpose_padded(&x, 2, 3, 8);
        assert_eq!(&t[0..3], &[1.0, 4.0, 0.0]);
        assert_eq!(&t[8..10], &[2.0, 5.0]);
        assert_eq!(t[17], 6.0);
        assert!(t[18..24].iter().all(|v| *v == 0.0));
    }
}
