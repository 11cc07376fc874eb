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


def best_of(fn, repeat=3, cpu=False):
    """``(time, output)``: the shortest wall time of ``repeat`` calls, or with ``cpu`` the median
    CPU time (``time.process_time``: what a loaded machine inflates least)."""
    (t,), (out,) = interleaved([fn], repeat, cpu)
    return t, out


def interleaved(fns, repeat=3, cpu=False):
    """``(times, outputs)`` of functions called in turn, ``repeat`` rounds (so that a change of
    the machine's load during the measurement affects all of them alike): per function the
    shortest wall time, or with ``cpu`` the median CPU time."""
    clock = time.process_time if cpu else time.perf_counter
    times = [[] for _ in fns]
    outs = [None] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = clock()
            outs[i] = fn()
            times[i].append(clock() - t0)
    return [float(np.median(t)) if cpu else min(t) for t in times], outs


def image_metrics_ratio(repeat=3, cpu=False):
    """``(scikit-image time / ours, max |value difference|, ours, scikit-image)`` for
    NMSE+PSNR+SSIM (fastmri profile) of a (30, 256, 256) volume (:func:`best_of` times)."""
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

    (t_ours, t_sk), (ours, theirs) = interleaved(
        [lambda: score(ref, pred, profile="fastmri"), skimage_fastmri], repeat, cpu)
    diff = max(abs(ours.nmse - theirs[0]), abs(ours.psnr - theirs[1]), abs(ours.ssim - theirs[2]))
    return t_sk / t_ours, diff, t_ours, t_sk


def bench_image_metrics():
    ratio, diff, t_ours, t_sk = image_metrics_ratio()
    print(f"image metrics (30x256x256): ours {t_ours * 1e3:.1f} ms, scikit-image {t_sk * 1e3:.1f} ms, "
          f"speed ratio (skimage/ours) {ratio:.2f}x, max |difference| {diff:.2e}")
    ratio, _, t_ours, t_sk = image_metrics_ratio(repeat=7, cpu=True)
    print(f"  in CPU time (median of 7): ours {t_ours * 1e3:.1f} ms, scikit-image "
          f"{t_sk * 1e3:.1f} ms, ratio {ratio:.2f}x")


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


def cg_sense_ratios(n_iter=30, repeat=3, cpu=False):
    """``(sigpy time / ours, relative difference, one CG iteration / its FFTs, a whole call /
    n_iter FFT pairs)`` on :func:`sense_problem` with ``n_iter`` iterations (ours at the
    library's default threads; :func:`best_of` times).

    Everything is timed in turn (:func:`interleaved`). The FFT bound: each CG iteration
    applies ``A^H A`` once. The benchmark's mask samples ky
    lines (every kx), so the operator needs one forward and one inverse 1-D FFT along ky of
    every coil image (``F_x^H F_x = I``), which it runs on ky-contiguous coil images two
    coils at a time; those same FFTs (plain ``torch.fft``, unscaled, same threads), ``n_iter``
    times, are the bound. (Before the normal operator detected full-size line masks, the
    bound was the 2-D FFT pair; :func:`fft_pairs` gives both.)

    One iteration: the time of a call with ``n_iter`` iterations minus that of a call with
    none (the operator's set-up and the right-hand side ``A^H y``, a 2-D inverse FFT of every
    coil, which the bound does not count), divided by ``n_iter``, over one FFT pair per coil.
    The whole call over ``n_iter`` FFT pairs (the figure printed before session 7) counts
    that per-call work against the iterations' FFTs.
    """
    import sigpy.mri

    from reference_impls.recon import cg_sense

    k, maps, mask = sense_problem()
    kt = torch.from_numpy(k[None, None])
    mt = torch.from_numpy(mask[None, None, None].copy())
    st = torch.from_numpy(maps[None])

    def run_sigpy():
        return sigpy.mri.app.SenseRecon(k, maps, weights=mask.astype(np.float32),
                                        max_iter=n_iter, show_pbar=False).run()

    run_sigpy()  # numba/JIT warm-up outside the timing
    lines, _ = fft_pairs(maps, n_iter)
    (t_ours, t_sp, t_fft, t_setup), ((ours, _), theirs, _, _) = interleaved(
        [lambda: cg_sense(kt, mt, st, max_iter=n_iter, tol=0.0), run_sigpy, lines,
         lambda: cg_sense(kt, mt, st, max_iter=0, tol=0.0)], repeat, cpu)
    rel = np.linalg.norm(ours[0, 0].numpy() - theirs) / np.linalg.norm(theirs)
    return t_sp / t_ours, rel, (t_ours - t_setup) / t_fft, t_ours / t_fft


def fft_pairs(maps, n_iter=30):
    """``(lines, full)``: functions running ``n_iter`` forward + inverse FFTs of every coil
    image, along ky only (ky-contiguous, two coils at a time, unscaled: as the normal operator
    of a line mask runs them) and in 2-D (orthonormal, all coils), with the solvers' threads."""
    from suite.mr import intra_op_threads

    coil_imgs = torch.from_numpy(maps[None].copy())
    groups = [g.transpose(-1, -2).contiguous() for g in coil_imgs[0].split(2)]

    def lines():
        with intra_op_threads():
            for _ in range(n_iter):
                for g in groups:
                    torch.fft.ifft(torch.fft.fft(g, dim=-1), dim=-1, norm="forward")

    def full():
        with intra_op_threads():
            for _ in range(n_iter):
                torch.fft.ifft2(torch.fft.fft2(coil_imgs, norm="ortho"), norm="ortho")

    return lines, full


def bench_cg_sense(n_iter=30):
    from reference_impls.recon import cg_sense
    from suite.mr import SenseOperator

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
    # FFT bound: each CG iteration applies A^H A once: for this line mask one forward and one
    # inverse FFT along ky per coil (fft_times; the 2-D pair for comparison)
    op = SenseOperator(st[0], mt[0, 0])
    x = torch.zeros(1, 192, 160, dtype=torch.complex64)
    (t_fft, t_fft2, t_normal), _ = interleaved(
        [*fft_pairs(maps, n_iter), lambda: [op.normal(x) for _ in range(n_iter)]])
    print(f"CG iteration / its 1-D ky FFTs: {t_ours / t_fft:.2f} (normal operator alone "
          f"{t_normal / t_fft:.2f}; / 2-D FFT pairs {t_ours / t_fft2:.2f}); 1.0 would be the "
          f"FFT bound")


def bench_cg_sense_issue_problem():
    """The issue's figures (16 coils, 208 × 256, 30 iterations) in CPU time (median of 5)."""
    try:
        ratio, rel, per_fft, call_fft = cg_sense_ratios(repeat=5, cpu=True)
    except ImportError:
        return
    print(f"CG-SENSE (30 it, 16 coils, 208x256), CPU time: sigpy / ours {ratio:.2f}x, relative "
          f"difference {rel:.1e}; CG iteration / its 1-D ky FFTs {per_fft:.2f} (the whole call "
          f"/ 30 FFT pairs {call_fft:.2f})")


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    bench_image_metrics()
    bench_cg_sense()
    bench_cg_sense_issue_problem()
