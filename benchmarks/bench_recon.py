"""Reconstruction-stage speed, measured against the established implementations in one run.

Prints (asserts nothing):
1. our NMSE/PSNR/SSIM (fastmri profile) vs scikit-image on a (30, 256, 256) volume: speed ratio
   and the largest value difference;
2. our CG-SENSE vs sigpy's SenseRecon with the same iterations: speed ratio and agreement;
3. the time per CG iteration over the time of its FFTs alone (how close to the FFT bound).

Run: ``.venv/bin/python benchmarks/bench_recon.py`` (or ``make bench``).
"""

from __future__ import annotations

import time

import numpy as np
import torch


def best_of(fn, repeat=3):
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def image_metrics_ratio(repeat=3):
    """``(scikit-image time / ours, max |value difference|)`` for NMSE+PSNR+SSIM (fastmri
    profile) of a (30, 256, 256) volume."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from suite.metrics.image import score

    rng = np.random.default_rng(0)
    ref = rng.random((30, 256, 256)).astype(np.float64)
    pred = ref + 0.05 * rng.standard_normal(ref.shape)

    def skimage_fastmri():
        dr = ref.max()
        ssim = np.mean([structural_similarity(ref[i], pred[i], data_range=dr) for i in range(30)])
        psnr = peak_signal_noise_ratio(ref, pred, data_range=dr)
        nmse = np.linalg.norm(ref - pred) ** 2 / np.linalg.norm(ref) ** 2
        return nmse, psnr, ssim

    t_ours, ours = best_of(lambda: score(ref, pred, profile="fastmri"), repeat)
    t_sk, theirs = best_of(skimage_fastmri, repeat)
    diff = max(abs(ours.nmse - theirs[0]), abs(ours.psnr - theirs[1]), abs(ours.ssim - theirs[2]))
    return t_sk / t_ours, diff, t_ours, t_sk


def bench_image_metrics():
    ratio, diff, t_ours, t_sk = image_metrics_ratio()
    print(f"image metrics (30x256x256): ours {t_ours * 1e3:.1f} ms, scikit-image {t_sk * 1e3:.1f} ms, "
          f"speed ratio (skimage/ours) {ratio:.2f}x, max |difference| {diff:.2e}")


def sense_problem(nc=16, ny=208, nx=256):
    """A SENSE problem: Gaussian coil maps (RSS-normalised), an ellipse, R = 4 lines + 24 ACS.
    Default: the issue's benchmark size (16 coils, 208 × 256)."""
    yy, xx = np.mgrid[-1:1:ny * 1j, -1:1:nx * 1j]
    maps = np.stack([np.exp(-((xx - np.cos(a)) ** 2 + (yy - np.sin(a)) ** 2))
                     * np.exp(1j * a * xx) for a in np.linspace(0, 2 * np.pi, nc, endpoint=False)])
    maps /= np.sqrt((np.abs(maps) ** 2).sum(0))
    img = ((xx / 0.8) ** 2 + (yy / 0.7) ** 2 < 1) * (1 + yy)
    mask = np.zeros((ny, 1), bool)
    mask[::4] = True
    mask[ny // 2 - 12: ny // 2 + 12] = True
    mask = np.broadcast_to(mask, (ny, nx))
    k = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(maps * img, axes=(-2, -1)), norm="ortho"),
                        axes=(-2, -1)) * mask
    return k.astype(np.complex64), maps.astype(np.complex64), mask


def cg_sense_ratios(n_iter=30, repeat=3):
    """``(sigpy time / ours, relative difference, CG iteration time / its FFTs' time)`` on
    :func:`sense_problem` with ``n_iter`` iterations (ours at the library's default threads).

    The FFT bound: each CG iteration applies ``A^H A`` once, i.e. one forward and one inverse
    2-D FFT of every coil image (plain ``torch.fft``, no centring), timed with the same threads.
    """
    import sigpy.mri

    from reference_impls.recon import cg_sense
    from suite.mr import intra_op_threads

    k, maps, mask = sense_problem()
    kt = torch.from_numpy(k[None, None])
    mt = torch.from_numpy(mask[None, None, None].copy())
    st = torch.from_numpy(maps[None])
    t_ours, (ours, _) = best_of(lambda: cg_sense(kt, mt, st, max_iter=n_iter, tol=0.0), repeat)

    def run_sigpy():
        return sigpy.mri.app.SenseRecon(k, maps, weights=mask.astype(np.float32),
                                        max_iter=n_iter, show_pbar=False).run()

    run_sigpy()  # numba/JIT warm-up outside the timing
    t_sp, theirs = best_of(run_sigpy, repeat)
    rel = np.linalg.norm(ours[0, 0].numpy() - theirs) / np.linalg.norm(theirs)
    coil_imgs = torch.from_numpy(maps[None].copy())

    def ffts_only():
        with intra_op_threads():
            for _ in range(n_iter):
                torch.fft.ifft2(torch.fft.fft2(coil_imgs, norm="ortho"), norm="ortho")

    t_fft, _ = best_of(ffts_only, repeat)
    return t_sp / t_ours, rel, t_ours / t_fft


def bench_cg_sense(n_iter=30):
    from reference_impls.recon import cg_sense
    from suite.mr import SenseOperator, fft2c, ifft2c

    k, maps, mask = sense_problem(nc=8, ny=192, nx=160)
    kt = torch.from_numpy(k[None, None])
    mt = torch.from_numpy(mask[None, None, None].copy())
    st = torch.from_numpy(maps[None])
    t_ours, (ours, _) = best_of(lambda: cg_sense(kt, mt, st, max_iter=n_iter, tol=0.0))
    try:
        import sigpy.mri

        def run_sigpy():
            return sigpy.mri.app.SenseRecon(k, maps, weights=mask.astype(np.float32),
                                            max_iter=n_iter, show_pbar=False).run()

        run_sigpy()  # numba/JIT warm-up outside the timing
        t_sp, theirs = best_of(run_sigpy)
        rel = np.linalg.norm(ours[0, 0].numpy() - theirs) / np.linalg.norm(theirs)
        print(f"CG-SENSE ({n_iter} it, 8 coils, 192x160): ours {t_ours * 1e3:.1f} ms, sigpy "
              f"{t_sp * 1e3:.1f} ms, speed ratio (sigpy/ours) {t_sp / t_ours:.2f}x, "
              f"relative difference {rel:.1e}")
    except ImportError:
        print(f"CG-SENSE ({n_iter} it): ours {t_ours * 1e3:.1f} ms; sigpy not installed (dev extra)")
    # FFT bound: each CG iteration applies A^H A once = one forward + one inverse FFT per coil
    coil_imgs = torch.from_numpy(maps[None] * np.ones((1, 1, 1), np.complex64))

    def ffts_only():
        for _ in range(n_iter):
            ifft2c(fft2c(coil_imgs))

    t_fft, _ = best_of(ffts_only)
    op = SenseOperator(st[0], mt[0, 0])
    x = torch.zeros(1, 192, 160, dtype=torch.complex64)
    t_normal, _ = best_of(lambda: [op.normal(x) for _ in range(n_iter)])
    print(f"CG iteration / FFT-only time: {t_ours / t_fft:.2f} (normal operator alone "
          f"{t_normal / t_fft:.2f}); 1.0 would be the FFT bound")


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    bench_image_metrics()
    bench_cg_sense()
