"""Figures written by background processes are the figures written in this process."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from suite.report.draw import (background_figures, pyplot, save_figure, tight_layout,
                               wait_for_figures)


def _figure(seed: int, layout: bool = False):
    plt = pyplot()
    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(4, 3))
    x = np.arange(5)
    ax.errorbar(x, rng.normal(size=5), yerr=[np.full(5, 0.1), np.full(5, 0.2)], marker="o",
                label="a series")
    ax.axhspan(-0.5, 0.5, alpha=0.2)
    ax.imshow(rng.random((8, 8)), extent=(0, 1, 0, 1))
    ax.set_title(f"figure {seed}")
    ax.legend(fontsize=6)
    if layout:
        tight_layout(fig, rect=(0, 0, 1, 0.95))
    return fig


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_background_figures_equal_figures_written_here(tmp_path):
    for i in range(3):
        save_figure(_figure(i), tmp_path / "here", f"f{i}", dpi=90)
    with background_figures(workers=2):
        paths = [save_figure(_figure(i), tmp_path / "bg", f"f{i}", dpi=90) for i in range(3)]
        wait_for_figures()
        assert all(p.is_file() for p in paths)
    for i in range(3):
        assert _sha(tmp_path / "bg" / f"f{i}.png") == _sha(tmp_path / "here" / f"f{i}.png")
        svg = (tmp_path / "bg" / f"f{i}.svg").read_text()
        assert svg.startswith("<?xml") and f"figure {i}" in svg
    assert not pyplot().get_fignums()  # every figure closed


def test_leaving_the_block_waits_and_reports_a_worker_error(tmp_path):
    with background_figures(workers=1):
        save_figure(_figure(0), tmp_path, "ok")
    assert (tmp_path / "ok.png").is_file() and (tmp_path / "ok.svg").is_file()
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "x.png").mkdir()  # the PNG's path is a folder: the worker's savefig fails
    with pytest.raises(RuntimeError, match="figure 'x': IsADirectoryError"):
        with background_figures(workers=1):
            save_figure(_figure(1), blocked, "x")
            save_figure(_figure(2), tmp_path, "after")  # the other figures are still written
    assert (tmp_path / "after.png").is_file()


def test_tight_layout_is_applied_where_the_figure_is_rendered(tmp_path):
    """``tight_layout(fig)`` then ``save_figure`` equals ``fig.tight_layout()`` then saving,
    in this process and in a figure process."""
    fig = _figure(5)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    for ext in ("png", "svg"):
        fig.savefig(tmp_path / f"direct.{ext}", dpi=90 if ext == "png" else None,
                    bbox_inches="tight", metadata={"Date": None} if ext == "svg" else None)
    pyplot().close(fig)
    save_figure(_figure(5, layout=True), tmp_path, "deferred", dpi=90)
    with background_figures(workers=1):
        save_figure(_figure(5, layout=True), tmp_path, "background", dpi=90)
    direct = _sha(tmp_path / "direct.png")
    assert _sha(tmp_path / "deferred.png") == direct
    assert _sha(tmp_path / "background.png") == direct
    untight = _figure(5)
    save_figure(untight, tmp_path, "untight", dpi=90)
    assert _sha(tmp_path / "untight.png") != direct  # the layout did change the figure


def test_nothing_is_serialised_on_the_way_to_the_figure_process(tmp_path):
    """The child renders its forked copy of the figure: a figure that cannot be pickled (a
    lambda on it) is written in the background like any other, identical to this process's."""
    import pickle

    fig = _figure(7)
    fig.cmrsuite_callback = lambda: None
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pickle.dumps(fig)
    save_figure(_figure(7), tmp_path, "here", dpi=90)
    with background_figures(workers=1) as writer:
        assert writer.forks
        save_figure(fig, tmp_path, "forked", dpi=90)
    assert _sha(tmp_path / "forked.png") == _sha(tmp_path / "here.png")


def test_fewer_collections_raises_the_young_threshold_and_restores_it():
    import gc

    from suite._process import fewer_collections

    before = gc.get_threshold()
    with fewer_collections(young=5000):
        assert gc.get_threshold() == (max(5000, before[0]), *before[1:])
    with pytest.raises(KeyError):
        with fewer_collections(young=5000):
            raise KeyError("restored also after an error")
    assert gc.get_threshold() == before
    try:
        gc.set_threshold(0)  # switched off: stays off
        with fewer_collections(young=5000):
            assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)
