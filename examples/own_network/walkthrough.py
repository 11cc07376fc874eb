"""Evaluate your own network with cmrsuite, end to end (docs/evaluate-your-network.md).

Run it from a checkout::

    .venv/bin/python examples/own_network/walkthrough.py runs/own-network

It trains :class:`mynet.TinyRefiner` on the phantom, then evaluates it the two ways an outside
researcher can: as a plugin (the suite calls the network) and as a folder of predictions made
from the exact inputs the suite exports (the network runs elsewhere); multi-coil and, through
coil compression, single-coil; with a white-box attack; and writes the evidence report. The two
routes give identical scores, which the test suite checks (tests/test_example_own_network.py).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent

DATASET = {"name": "phantom", "phantom": {"subjects": 2, "seed": 7, "presets": ["tiny"],
                                          "overrides": {"n_frames": 4}}}
CONDITIONS = [
    {"name": "full", "type": "fully-sampled"},
    {"name": "R4", "type": "undersample", "pattern": "equispaced", "acceleration": 4,
     "acs_lines": 8},
    # a single-coil network's view of the same data: one virtual coil, scored against the
    # compressed fully sampled data
    {"name": "R4-1coil", "type": "undersample", "pattern": "equispaced", "acceleration": 4,
     "acs_lines": 8, "virtual_coils": 1},
]


def _protocol(path: Path, recon_methods: list, *, robustness: dict | None = None,
              subjects: int) -> Path:
    raw = {"name": path.stem, "seed": 0,
           "datasets": [{**DATASET, "phantom": {**DATASET["phantom"], "subjects": subjects}}],
           "conditions": CONDITIONS, "methods": {"recon": recon_methods},
           "plugin_paths": [str(HERE)],
           "metrics": {"image": {"profiles": ["fastmri", "cmrxrecon2023"]}, "temporal": True},
           "analyses": {"bootstrap": {"n_resamples": 200}}}
    if robustness:
        raw["robustness"] = robustness
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _scores(run_dir: Path, label: str) -> dict:
    con = sqlite3.connect(run_dir / "results.sqlite")
    rows = con.execute("SELECT case_id, condition, stage, metric, profile, value FROM results "
                       "WHERE recon = ? AND stage IN ('recon', 'temporal')", (label,)).fetchall()
    con.close()
    return {r[:5]: r[5] for r in rows}


def main(out_dir, *, steps: int = 150, subjects: int = 2, report: bool = True) -> dict:
    """The whole walkthrough into ``out_dir``; returns what it found (paths and checks)."""
    sys.path.insert(0, str(HERE))
    from mynet import TinyRefiner, train

    from suite.data.ismrmrd_io import read_ismrmrd
    from suite.protocol import load_protocol
    from suite.runner import run_protocol
    from suite.runner.conditions_export import export_conditions
    from suite.trust import AllowList

    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    # 1. train the network (your own training; cmrsuite only needs the weights file)
    weights = train(out / "tiny-refiner.pt", steps=steps)
    # 2. the plugin route: the suite calls the network, and attacks it white-box
    # the weights path is relative: params paths resolve against the protocol's folder (`out`)
    mine = {"plugin": "mynet:TinyRefiner", "params": {"weights": weights.name}, "label": "my-net"}
    # a plugin is user code: it runs only when allowed outside the protocol
    # (`--allow-plugin mynet:TinyRefiner --allow-plugin-path examples/own_network` on the CLI)
    allowed = AllowList(["mynet:TinyRefiner"], [HERE])
    attack = {"adversarial": {"recon": {"methods": ["my-net"], "conditions": ["R4"],
                                        "budgets": [0.02], "steps": 3, "segmentation": None}}}
    plugin = load_protocol(_protocol(out / "as-plugin.yaml", ["zero-filled", mine],
                                     robustness=attack, subjects=subjects),
                           allow_plugins=allowed)
    run_plugin = run_protocol(plugin, out / "run-plugin", executor="serial")
    # 3. the predictions route: export the exact inputs, run the network on them elsewhere,
    #    hand the suite a folder of outputs
    exported = export_conditions(plugin, out / "inputs")
    net = TinyRefiner(str(weights))
    for h5 in exported.files:
        record = json.loads(h5.with_suffix(".json").read_text())
        folder = out / "predictions" / record["dataset"] / record["subject"]
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / f"{record['condition']['name']}.npy", net(read_ismrmrd(h5)))
    # `inputs`: the exported folder; every prediction is checked against its export record
    preds = load_protocol(_protocol(out / "as-predictions.yaml",
                                    ["zero-filled", {"predictions": "predictions",
                                                     "inputs": "inputs", "label": "my-net"}],
                                    subjects=subjects))
    run_preds = run_protocol(preds, out / "run-predictions", executor="serial")
    a, b = _scores(out / "run-plugin", "my-net"), _scores(out / "run-predictions", "my-net")
    found = {"weights": str(weights), "plugin_run": str(out / "run-plugin"),
             "predictions_run": str(out / "run-predictions"),
             "plugin_exit": run_plugin.exit_code, "predictions_exit": run_preds.exit_code,
             "n_scores": len(a), "routes_identical": bool(a) and a == b}
    # 4. the evidence report of the plugin run (robustness included)
    if report:
        from suite.report import build_report

        res = build_report(out / "run-plugin", "claim", ("md", "html"))
        found["report"] = str(res.documents["claim"][0])
    return found


if __name__ == "__main__":  # pragma: no cover
    target = sys.argv[1] if len(sys.argv) > 1 else "runs/own-network"
    print(json.dumps(main(target), indent=2))
