"""Warnings about a valid protocol: settings that run but will not measure what they seem to.

``cmrsuite validate`` prints them; a run goes ahead regardless (they are not errors).

* An undersampling condition whose calibration block (``acs_lines``) uses up the whole line
  budget of the acquisition (``round(ny / R)`` lines of ``ny``): no line outside the centre is
  sampled, so the "acceleration R" is a low-resolution acquisition (checked for phantom
  datasets, whose matrix the protocol fixes; a real dataset's matrix is known only when read).
* Fewer ACS lines than ESPIRiT needs (``kernel + 6``, at least 12:
  :func:`reference_impls.recon.coil_maps.espirit_maps`) while a reconstruction that estimates
  ESPIRiT maps is listed: it falls back to low-resolution maps.
"""

from __future__ import annotations

__all__ = ["protocol_warnings", "ESPIRIT_MIN_ACS"]

#: ACS lines below which ESPIRiT falls back to low-resolution maps (kernel 6 + 6).
ESPIRIT_MIN_ACS = 12
#: Reference reconstructions whose default coil maps are ESPIRiT maps.
_ESPIRIT_METHODS = ("cg-sense", "kt-cs", "lowrank-sparse")


def _phantom_lines(ds: dict) -> int | None:
    from suite.phantom.presets import get_preset

    ph = ds.get("phantom")
    if ph is None:
        return None
    overrides = ph.get("overrides") or {}
    if "matrix" in overrides:
        return int(overrides["matrix"][0])
    presets = ph.get("presets") or []
    rows = [get_preset(p).matrix[0] for p in presets] if presets else []
    return min(rows) if rows else None


def protocol_warnings(protocol) -> list[str]:
    """Warnings of a validated :class:`~suite.protocol.Protocol` (module docstring)."""
    out = []
    recon_names = {m.get("name") for m in protocol.methods("recon")}
    espirit = sorted(recon_names & set(_ESPIRIT_METHODS))
    for c in protocol.conditions:
        if c["type"] != "undersample":
            continue
        acs, r = int(c.get("acs_lines", 24)), float(c["acceleration"])
        if espirit and acs < ESPIRIT_MIN_ACS:
            out.append(f"conditions `{c['name']}`: {acs} ACS lines are fewer than ESPIRiT needs "
                       f"({ESPIRIT_MIN_ACS}); {', '.join(espirit)} will fall back to "
                       "low-resolution coil maps")
        for ds in protocol.datasets:
            ny = _phantom_lines(ds)
            if ny is None:
                continue
            budget = round(ny / r)
            if budget <= acs:
                out.append(f"conditions `{c['name']}` on dataset `{ds['name']}`: R = {r:g} of "
                           f"{ny} lines allows {budget} lines, no more than the {acs} ACS "
                           "lines: no line outside the centre is sampled (a low-resolution "
                           "acquisition, not an accelerated one); lower `acs_lines`")
    return out
