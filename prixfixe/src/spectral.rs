//! Dense 'same' `Conv1d` branches through the discrete Fourier transform, for native CPU
//! inference and training (burn-flex).
//!
//! DREAM-RNN's Core Layers Block ends in two convolutions over the BiLSTM output (640 → 160
//! channels each, k = 9 and 15; ARCHITECTURE.md §2.2): done directly, 369 M of the model's 619 M
//! multiply-adds per 150 bp sequence. By the convolution theorem a 'same' cross-correlation
//! becomes one product per frequency once input and kernel are zero-padded to a period
//! `N ≥ L + (k − 1) / 2` (then no wrap-around reaches a kept output), so here:
//!
//! 1. forward DFT of every input channel: one matrix product with a cos / −sin table `(2F × L)`,
//!    `F = N / 2 + 1` bins (the input is real);
//! 2. per bin, the complex product `(C → O)` of all branches at once, written as two real
//!    products of `(S × C)` by `(C × 2O)` (real and imaginary input parts);
//! 3. inverse DFT of every output channel: per sample two products with the `(F × L)` tables,
//!    then bias and ReLU.
//!
//! For DREAM-RNN that is 88 M multiply-adds per sequence instead of 369 M, all in large
//! products on the gemm crate. The mathematics is that of the direct sum; only rounding
//! differs (tested against [`crate::autograd::conv1d_host`] to 1e-5 relative, and the parity
//! fixtures of the published model pass through it). The browser keeps the direct
//! convolution (its own products take no strides).
//!
//! Training ([`crate::autograd::conv1d_dft`], one branch per op) runs the same forward pass and
//! its backward pass here too (`conv_backward`): `dX = Hᴴ · dY` per bin, and the weight
//! gradient as the circular cross-correlation of `dy` with `x` (`Σ conj(dY) · X` per bin) read at
//! the kernel's `k` lags — about a third of the direct route's multiply-adds each way.

#[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
use rayon::prelude::*;

#[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
use crate::autograd::sgemm_with;

/// One convolution branch: `weight (out, c_in, k)` in PyTorch's layout, `k` odd, 'same'
/// zero padding `(k − 1) / 2`, stride 1, dilation 1, one group.
pub struct Branch<'a> {
    /// `(out, c_in, k)`, row-major.
    pub weight: &'a [f32],
    /// `(out)`, or none.
    pub bias: Option<&'a [f32]>,
    /// Output channels.
    pub out: usize,
    /// Kernel size (odd).
    pub k: usize,
}

#[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
/// Samples per round of the three steps: bounds the spectra to ~160 MB for DREAM-RNN.
const CHUNK: usize = 256;

/// DFT period for length `len` and the largest 'same' padding `pad`.
fn period(len: usize, pad: usize) -> usize {
    len + pad
}

/// Multiply-adds per sequence by this route (`(out, k)` per branch) and directly.
pub fn macs(len: usize, c_in: usize, branches: &[(usize, usize)]) -> (u64, u64) {
    let pad = branches.iter().map(|&(_, k)| k / 2).max().unwrap_or(0);
    let f = period(len, pad) / 2 + 1;
    let out: usize = branches.iter().map(|&(o, _)| o).sum();
    let spectral = 2 * f * len * c_in + f * (2 * c_in) * (2 * out) + 2 * out * f * len;
    let direct: usize = branches.iter().map(|&(o, k)| len * c_in * o * k).sum();
    (spectral as u64, direct as u64)
}

/// Whether the DFT route costs at most half the direct convolution's multiply-adds (DREAM-RNN's
/// core branches: 88 M vs 369 M; its First Layers Block on 6 input channels: no).
pub fn pays(len: usize, c_in: usize, branches: &[(usize, usize)]) -> bool {
    let (spectral, direct) = macs(len, c_in, branches);
    2 * spectral <= direct
}

#[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
/// `cat_i ReLU(conv_i(x) + bias_i)` over the branches: `x` time-major `(len, batch, c_in)` →
/// `(batch, Σ out, len)`, branch `i`'s channels after those of branches `< i`.
///
/// # Panics
/// If `x.len() != len · batch · c_in`, a `k` is even or a weight has the wrong length
/// (programming errors: the callers pass a model's own tensors).
pub fn conv_branches_relu(x: &[f32], batch: usize, len: usize, c_in: usize, branches: &[Branch]) -> Vec<f32> {
    conv_branches(x, Layout::TimeMajor, batch, len, c_in, branches, true)
}

#[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
/// How the input of [`conv_branches`] is laid out.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Layout {
    /// `(len, batch, c_in)`: the BiLSTM's output in inference.
    TimeMajor,
    /// `(batch, c_in, len)`: a convolution's usual input (training).
    SampleMajor,
}

#[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
impl Layout {
    /// Samples `b0 ..` of `x` as an `(len × samples · c_in)` matrix: the slice and its strides.
    fn chunk(self, x: &[f32], b0: usize, batch: usize, len: usize, c_in: usize) -> (&[f32], (usize, usize)) {
        match self {
            Layout::TimeMajor => (&x[b0 * c_in..], (batch * c_in, 1)),
            Layout::SampleMajor => (&x[b0 * c_in * len..], (1, len)),
        }
    }
}

#[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
/// `cat_i act(conv_i(x) + bias_i)` over the branches, `act` ReLU or the identity: `x` in
/// `layout` → `(batch, Σ out, len)`. Panics as [`conv_branches_relu`].
pub(crate) fn conv_branches(x: &[f32], layout: Layout, batch: usize, len: usize, c_in: usize, branches: &[Branch], relu: bool) -> Vec<f32> {
    assert_eq!(x.len(), len * batch * c_in, "spectral conv: input size");
    for b in branches {
        assert!(b.k % 2 == 1 && b.weight.len() == b.out * c_in * b.k, "spectral conv: branch shape");
    }
    let o_all: usize = branches.iter().map(|b| b.out).sum();
    let mut out = vec![0f32; batch * o_all * len];
    if batch == 0 || len == 0 {
        return out;
    }
    let pad = branches.iter().map(|b| b.k / 2).max().unwrap_or(0);
    let n = period(len, pad);
    let f = n / 2 + 1;
    let tables = Tables::new(n, f, len);
    let spectra = weight_spectra(branches, c_in, n, f);
    let bias: Vec<f32> = branches.iter().flat_map(|b| b.bias.map_or_else(|| vec![0.0; b.out], <[f32]>::to_vec)).collect();

    let (o2, c2) = (2 * o_all, 2 * c_in);
    for (b0, out_chunk) in (0..batch).step_by(CHUNK).zip(out.chunks_mut(CHUNK * o_all * len)) {
        let s = CHUNK.min(batch - b0);
        // 1. Input spectra `[re | im][bin][sample][channel]`.
        let xs = tables.spectra(layout.chunk(x, b0, batch, len, c_in), s * c_in, len);
        // 2. Per bin: [Yr | Yi] (s × 2O) = Xr · [Hr | Hi]ᵀ-block + Xi · [−Hi | Hr]ᵀ-block.
        let mut ys = vec![0f32; f * s * o2];
        let (xr, xi) = xs.split_at(f * s * c_in);
        ys.par_chunks_mut(s * o2).enumerate().for_each(|(bin, y)| {
            let h = &spectra[bin * o2 * c2..(bin + 1) * o2 * c2];
            let at = bin * s * c_in;
            sgemm_with(false, (s, o2, c_in), &xr[at..], (c_in, 1), h, (1, c2), y, o2, false);
            sgemm_with(false, (s, o2, c_in), &xi[at..], (c_in, 1), &h[c_in..], (1, c2), y, o2, true);
        });
        // 3. Per sample: y (O × L) = Yrᵀ · G_re + Yiᵀ · G_im, then bias (and ReLU).
        out_chunk.par_chunks_mut(o_all * len).enumerate().for_each(|(j, y)| {
            tables.inverse(&ys[j * o2..], (1, s * o2), o_all, y);
            for (row, &b) in y.chunks_exact_mut(len).zip(&bias) {
                if relu {
                    row.iter_mut().for_each(|v| *v = (*v + b).max(0.0));
                } else {
                    row.iter_mut().for_each(|v| *v += b);
                }
            }
        });
    }
    out
}

#[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
/// Gradients of one branch `y = conv(x) + bias` (no activation) given `dy (batch, out, len)`:
/// `(dx (batch, c_in, len), dw (out, c_in, k), dbias (out))`, `dx` / `dw` empty where not wanted.
/// `x` in the [`Layout::SampleMajor`] layout. With `Y = H · X` per bin (zero padding to the period
/// makes the 'same' convolution circular), `dX = Hᴴ · dY` per bin and sample (one real product
/// with the forward's `(2O × 2C)` blocks), and `dw[o, c, j] = r[j − pad]` with
/// `R = Σ_samples conj(dY_o) · X_c` per bin (circular cross-correlation of `dy` and `x`), read at
/// the `k` lags by one small product per output channel. Sums run over fixed chunks of samples
/// in order (deterministic).
pub(crate) fn conv_backward(x: &[f32], dy: &[f32], batch: usize, len: usize, c_in: usize, branch: &Branch, want_dx: bool, want_dw: bool) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (o, k) = (branch.out, branch.k);
    let pad = k / 2;
    let n = period(len, pad);
    let f = n / 2 + 1;
    let tables = Tables::new(n, f, len);
    let spectra = weight_spectra(std::slice::from_ref(branch), c_in, n, f);
    let (o2, c2) = (2 * o, 2 * c_in);
    let mut dx = vec![0f32; if want_dx { batch * c_in * len } else { 0 }];
    // Per bin `[Rr | Ri] (O × 2C)`.
    let mut r = vec![0f32; if want_dw { f * o * c2 } else { 0 }];
    for b0 in (0..batch).step_by(CHUNK) {
        let s = CHUNK.min(batch - b0);
        // dY spectra `[re | im][bin][sample][out]`.
        let ds = tables.spectra((&dy[b0 * o * len..], (1, len)), s * o, len);
        let (dr, di) = ds.split_at(f * s * o);
        if want_dx {
            // Per bin: [dXr | dXi] (s × 2C) = Dr · M_top + Di · M_bottom, M = the (2O × 2C) block.
            let mut dxs = vec![0f32; f * s * c2];
            dxs.par_chunks_mut(s * c2).enumerate().for_each(|(bin, g)| {
                let m = &spectra[bin * o2 * c2..(bin + 1) * o2 * c2];
                let at = bin * s * o;
                sgemm_with(false, (s, c2, o), &dr[at..], (o, 1), m, (c2, 1), g, c2, false);
                sgemm_with(false, (s, c2, o), &di[at..], (o, 1), &m[o * c2..], (c2, 1), g, c2, true);
            });
            dx[b0 * c_in * len..(b0 + s) * c_in * len].par_chunks_mut(c_in * len).enumerate().for_each(|(j, g)| {
                tables.inverse(&dxs[j * c2..], (1, s * c2), c_in, g);
            });
        }
        if want_dw {
            let xs = tables.spectra(Layout::SampleMajor.chunk(x, b0, batch, len, c_in), s * c_in, len);
            let (xr, xi) = xs.split_at(f * s * c_in);
            let neg_di: Vec<f32> = di.iter().map(|v| -v).collect();
            // Per bin: Rr += Drᵀ·Xr + Diᵀ·Xi, Ri += Drᵀ·Xi − Diᵀ·Xr.
            r.par_chunks_mut(o * c2).enumerate().for_each(|(bin, rb)| {
                let (at_d, at_x) = (bin * s * o, bin * s * c_in);
                let (dr, di, ndi) = (&dr[at_d..], &di[at_d..], &neg_di[at_d..]);
                let (xr, xi) = (&xr[at_x..], &xi[at_x..]);
                sgemm_with(false, (o, c_in, s), dr, (1, o), xr, (c_in, 1), rb, c2, true);
                sgemm_with(false, (o, c_in, s), di, (1, o), xi, (c_in, 1), rb, c2, true);
                sgemm_with(false, (o, c_in, s), dr, (1, o), xi, (c_in, 1), &mut rb[c_in..], c2, true);
                sgemm_with(false, (o, c_in, s), ndi, (1, o), xr, (c_in, 1), &mut rb[c_in..], c2, true);
            });
        }
    }
    let mut dw = Vec::new();
    if want_dw {
        // Lag s_j = j − pad (mod N): dw_o (k × C) = Σ_f a_f (Rr cos − Ri sin)(2π f s_j / N).
        let scale = |bin: usize| if bin == 0 || 2 * bin == n { 1.0 / n as f64 } else { 2.0 / n as f64 };
        let mut lag = vec![0f32; k * 2 * f];
        for j in 0..k {
            for bin in 0..f {
                let shift = (bin * ((j + n - pad) % n)) % n;
                let (sin, cos) = (2.0 * std::f64::consts::PI * shift as f64 / n as f64).sin_cos();
                lag[j * 2 * f + bin] = (scale(bin) * cos) as f32;
                lag[j * 2 * f + f + bin] = (-scale(bin) * sin) as f32;
            }
        }
        let mut dwk = vec![0f32; o * k * c_in];
        dwk.par_chunks_mut(k * c_in).enumerate().for_each(|(oi, g)| {
            let rr = &r[oi * c2..];
            sgemm_with(false, (k, c_in, f), &lag, (2 * f, 1), rr, (o * c2, 1), g, c_in, false);
            sgemm_with(false, (k, c_in, f), &lag[f..], (2 * f, 1), &rr[c_in..], (o * c2, 1), g, c_in, true);
        });
        // (O, k, C) → (O, C, k)
        dw = vec![0f32; o * c_in * k];
        for oi in 0..o {
            for j in 0..k {
                for c in 0..c_in {
                    dw[(oi * c_in + c) * k + j] = dwk[(oi * k + j) * c_in + c];
                }
            }
        }
    }
    let mut db = vec![0f64; o];
    for sample in dy.chunks(o * len) {
        for (d, row) in db.iter_mut().zip(sample.chunks(len)) {
            *d += crate::kernels::lane_sum(len, |t| row[t]) as f64;
        }
    }
    (dx, dw, db.into_iter().map(|v| v as f32).collect())
}

#[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
/// The DFT's cos / sin tables for period `n`, `f` bins and `len` positions (angles reduced mod
/// `n` in integers and evaluated in f64).
struct Tables {
    /// `(2F × L)`: rows `cos(2π·f·p/N)`, then rows `−sin(2π·f·p/N)`.
    forward: Vec<f32>,
    /// `(F × L)`: `a_f · cos(2π·f·p/N)`, `a_f` = `1/N` for the bins without a mirror image
    /// (0 and, for even `N`, `N/2`), `2/N` for the others (a real signal's spectrum is Hermitian).
    inverse_re: Vec<f32>,
    /// `(F × L)`: `−a_f · sin(2π·f·p/N)`.
    inverse_im: Vec<f32>,
}

#[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
impl Tables {
    fn new(n: usize, f: usize, len: usize) -> Self {
        let angle = |bin: usize, p: usize| 2.0 * std::f64::consts::PI * ((bin * p) % n) as f64 / n as f64;
        let scale = |bin: usize| if bin == 0 || 2 * bin == n { 1.0 / n as f64 } else { 2.0 / n as f64 };
        let mut forward = vec![0f32; 2 * f * len];
        let mut inverse_re = vec![0f32; f * len];
        let mut inverse_im = vec![0f32; f * len];
        for bin in 0..f {
            for p in 0..len {
                let (sin, cos) = angle(bin, p).sin_cos();
                forward[bin * len + p] = cos as f32;
                forward[(f + bin) * len + p] = -sin as f32;
                inverse_re[bin * len + p] = (scale(bin) * cos) as f32;
                inverse_im[bin * len + p] = (-scale(bin) * sin) as f32;
            }
        }
        Self { forward, inverse_re, inverse_im }
    }

    /// Spectra `[re | im][bin][column]` (`2F × cols`) of the `cols` columns of an `(L × cols)`
    /// matrix given as a slice and its strides: one product with the forward table.
    fn spectra(&self, (x, strides): (&[f32], (usize, usize)), cols: usize, len: usize) -> Vec<f32> {
        let f2 = self.forward.len() / len;
        let mut out = vec![0f32; f2 * cols];
        sgemm_with(true, (f2, cols, len), &self.forward, (len, 1), x, strides, &mut out, cols, false);
        out
    }

    /// Real signals `y (rows × L)` from their half spectra: row `i`'s bin `b` real part at
    /// `re[i·rs + b·cs]`, its imaginary part `rows` columns further (`y = Reᵀ·G_re + Imᵀ·G_im`).
    fn inverse(&self, re: &[f32], (rs, cs): (usize, usize), rows: usize, y: &mut [f32]) {
        let len = y.len() / rows.max(1);
        let f = self.inverse_re.len() / len.max(1);
        sgemm_with(false, (rows, len, f), re, (rs, cs), &self.inverse_re, (len, 1), y, len, false);
        sgemm_with(false, (rows, len, f), &re[rows * rs..], (rs, cs), &self.inverse_im, (len, 1), y, len, true);
    }
}

#[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
/// Per bin the `(2O × 2C)` real form of the kernels' spectra, row `n` = output column of step 2:
/// `[[Hr, −Hi], [Hi, Hr]]` with `H[o][c] = Σ_t w[o][c][t] · e^{−2πi·bin·(pad − t)/N}` (the
/// cross-correlation's kernel, reversed and centred on its own padding). Per branch one product
/// of the `(2F × k)` phase table with the weights read as `(k × out·c_in)`, then copies.
fn weight_spectra(branches: &[Branch], c_in: usize, n: usize, f: usize) -> Vec<f32> {
    let o_all: usize = branches.iter().map(|b| b.out).sum();
    let (o2, c2) = (2 * o_all, 2 * c_in);
    let spectra_of: Vec<Vec<f32>> = branches
        .iter()
        .map(|b| {
            let pad = b.k / 2;
            let mut phase = vec![0f32; 2 * f * b.k];
            for bin in 0..f {
                for tap in 0..b.k {
                    let shift = (bin * (pad + n - tap)) % n;
                    let (sin, cos) = (2.0 * std::f64::consts::PI * shift as f64 / n as f64).sin_cos();
                    phase[bin * b.k + tap] = cos as f32;
                    phase[(f + bin) * b.k + tap] = -sin as f32;
                }
            }
            // (2F × out·c_in): rows Hr of every bin, then rows Hi.
            let mut h = vec![0f32; 2 * f * b.out * c_in];
            sgemm_with(true, (2 * f, b.out * c_in, b.k), &phase, (b.k, 1), b.weight, (1, b.k), &mut h, b.out * c_in, false);
            h
        })
        .collect();
    let mut spectra = vec![0f32; f * o2 * c2];
    spectra.par_chunks_mut(o2 * c2).enumerate().for_each(|(bin, s)| {
        let (top, bottom) = s.split_at_mut(o_all * c2);
        let (mut top_rows, mut bottom_rows) = (top.chunks_exact_mut(c2), bottom.chunks_exact_mut(c2));
        for (b, h) in branches.iter().zip(&spectra_of) {
            let (hr, hi) = (&h[bin * b.out * c_in..(bin + 1) * b.out * c_in], &h[(f + bin) * b.out * c_in..(f + bin + 1) * b.out * c_in]);
            for (r, i) in hr.chunks_exact(c_in).zip(hi.chunks_exact(c_in)) {
                let (re_row, im_row) = (top_rows.next().expect("row"), bottom_rows.next().expect("row"));
                re_row[..c_in].copy_from_slice(r);
                re_row[c_in..].iter_mut().zip(i).for_each(|(d, v)| *d = -v);
                im_row[..c_in].copy_from_slice(i);
                im_row[c_in..].copy_from_slice(r);
            }
        }
    });
    spectra
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }

    /// Against the training op's direct convolution on a random batch: three branches (k 9, 15
    /// and 1, one without bias), 260 samples (a full chunk, then a partial one).
    #[cfg(all(feature = "flex", not(target_arch = "wasm32")))]
    #[test]
    fn equals_the_direct_convolution() {
        let (batch, len, c_in) = (CHUNK + 4, 37, 24);
        let shapes = [(7usize, 9usize, true), (5, 15, false), (3, 1, true)];
        let mut seed = 7;
        let x_bcl: Vec<f32> = (0..batch * c_in * len).map(|_| lcg(&mut seed)).collect();
        let weights: Vec<(Vec<f32>, Vec<f32>)> =
            shapes.iter().map(|&(o, k, _)| ((0..o * c_in * k).map(|_| lcg(&mut seed)).collect(), (0..o).map(|_| lcg(&mut seed)).collect())).collect();
        let branches: Vec<Branch> = shapes
            .iter()
            .zip(&weights)
            .map(|(&(out, k, bias), (w, b))| Branch { weight: w, bias: bias.then_some(b.as_slice()), out, k })
            .collect();
        // Time-major copy of the input.
        let mut x_tm = vec![0f32; x_bcl.len()];
        for b in 0..batch {
            for c in 0..c_in {
                for p in 0..len {
                    x_tm[(p * batch + b) * c_in + c] = x_bcl[(b * c_in + c) * len + p];
                }
            }
        }
        let got = conv_branches_relu(&x_tm, batch, len, c_in, &branches);
        let o_all: usize = shapes.iter().map(|s| s.0).sum();
        assert_eq!(got.len(), batch * o_all * len);
        let mut offset = 0;
        let mut worst = 0f32;
        for br in &branches {
            let (_, want) = crate::autograd::conv1d_host(&x_bcl, br.weight, br.bias, batch, len, br.k);
            for b in 0..batch {
                for o in 0..br.out {
                    for p in 0..len {
                        let w = want[(b * br.out + o) * len + p].max(0.0);
                        let g = got[(b * o_all + offset + o) * len + p];
                        worst = worst.max((w - g).abs() / (1.0 + w.abs()));
                    }
                }
            }
            offset += br.out;
        }
        assert!(worst < 1e-5, "largest difference {worst}");
    }

    #[test]
    fn pays_for_dream_rnn_core_not_its_first_block() {
        assert!(pays(150, 640, &[(160, 9), (160, 15)]));
        assert!(!pays(150, 6, &[(160, 9), (160, 15)]));
        let (spectral, direct) = macs(150, 640, &[(160, 9), (160, 15)]);
        assert_eq!(direct, 368_640_000);
        assert!(spectral < 90_000_000, "{spectral}");
    }
}
