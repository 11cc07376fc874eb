"""Sponsor metadata: what the suite cannot measure, declared by whoever submits the method.

The protocol points to a YAML file with the optional top-level key ``sponsor:`` (a path relative
to the protocol file). Its fields fill the *declared* parts of report items, shown as "declared
by the sponsor, not verified by cmrsuite"; they never fill a measured item. Two mappings answer
items directly: ``answers`` (``"claim:2": "text"``) and ``not_applicable`` (``"claim:34":
"reason"``; a reason is required). ``protocols/sponsors/example.yaml`` is the worked example.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["SponsorMetadata", "SponsorError", "load_sponsor", "SPONSOR_FIELDS"]

#: Fields a sponsor file may hold, with what each declares.
SPONSOR_FIELDS = {
    "device": "name, version, manufacturer and regulatory status of the method or device",
    "summary": "structured summary (design, methods, results, conclusions)",
    "intended_use": "intended use and indications",
    "clinical_context": "clinical background and why AI is needed",
    "objectives": "aims, objectives and hypotheses",
    "study_design": "prospective or retrospective, study goal",
    "population": "population the data were drawn from",
    "setting": "setting, number and location of centres",
    "data_sources": "data sources and links",
    "dates": "dates of data collection",
    "eligibility": "inclusion and exclusion criteria",
    "treatments": "treatments and their handling",
    "preprocessing": "pre-processing as the deployed method applies it",
    "deidentification": "de-identification",
    "demographics": "age, sex, race, ethnicity and socioeconomic distribution",
    "reference_standard": "definition of and rationale for the reference standard",
    "annotators": "annotators: number, qualifications, training, variability",
    "annotation_procedure": "annotation procedure, software, blinding, adjudication",
    "training_data": "development data: description, sites, `subjects` and `sha256` lists",
    "sample_size": "how the test-set size was decided",
    "model_description": "model architecture, inputs, ensembling",
    "model_output": "model output, thresholds",
    "training_procedure": "initialisation, training, augmentation, hyperparameters, class imbalance",
    "model_selection": "how the final model was selected",
    "model_updating": "model updating after evaluation",
    "explainability": "explainability and uncertainty methods",
    "fairness": "approach to fairness and known inequalities",
    "target_users": "intended users and required expertise",
    "input_handling": "how poor-quality or unavailable inputs are handled in use",
    "reader_study": "human-device team performance",
    "clinical_validation": "evidence of clinical validation",
    "limitations": "limitations",
    "implications": "implications for practice, strengths, next steps",
    "monitoring_plan": "post-deployment monitoring and change control",
    "ethics": "ethics approval and consent",
    "registration": "study registration",
    "protocol_access": "where the protocol can be accessed",
    "availability": "availability of data, code and model",
    "funding": "funding and role of funders",
    "conflicts": "conflicts of interest",
    "public_involvement": "patient and public involvement",
}
_TOP = set(SPONSOR_FIELDS) | {"answers", "not_applicable"}


class SponsorError(ValueError):
    """A sponsor file that does not validate; names the file, the key and the fix."""


@dataclass(frozen=True)
class SponsorMetadata:
    """Validated sponsor metadata (``fields``, ``answers``, ``not_applicable``)."""

    source: str
    fields: dict = field(default_factory=dict)
    answers: dict = field(default_factory=dict)
    not_applicable: dict = field(default_factory=dict)

    def declared(self, key: str) -> Any:
        """Value of ``sponsor.<field>`` or None."""
        return self.fields.get(key.removeprefix("sponsor."))

    def to_dict(self) -> dict:
        return {"source": self.source, "fields": self.fields, "answers": self.answers,
                "not_applicable": self.not_applicable}

    def summary(self) -> str:
        return (f"sponsor metadata {self.source}: {len(self.fields)} field(s), "
                f"{len(self.answers)} answer(s), {len(self.not_applicable)} not-applicable item(s)")


def load_sponsor(path) -> SponsorMetadata:
    """Load and validate a sponsor YAML file (``yaml.safe_load``).

    Raises
    ------
    SponsorError
        Missing file, invalid YAML, unknown key (with the nearest known key), an empty
        not-applicable reason, or an item reference not of the form ``guideline:item``.
    """
    p = Path(path)
    if not p.is_file():
        raise SponsorError(f"{p}: sponsor metadata file does not exist; fix the protocol's "
                           "`sponsor:` path (relative to the protocol file) or pass --sponsor")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SponsorError(f"{p}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SponsorError(f"{p}: must be a mapping of fields; got {type(raw).__name__}")
    for k in raw:
        if k not in _TOP:
            near = difflib.get_close_matches(str(k), sorted(_TOP), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise SponsorError(f"{p}: `{k}` is not a sponsor field{hint}; known fields: {sorted(_TOP)}")
    for name in ("answers", "not_applicable"):
        m = raw.get(name) or {}
        if not isinstance(m, dict):
            raise SponsorError(f"{p}: `{name}` must map 'guideline:item' to text")
        for ref, text in m.items():
            if not isinstance(ref, str) or ":" not in ref:
                raise SponsorError(f"{p}: `{name}.{ref}` must be written 'guideline:item', e.g. 'claim:34'")
            if not isinstance(text, str) or not text.strip():
                raise SponsorError(f"{p}: `{name}.{ref}` needs a non-empty text"
                                   + (" (the reason the item does not apply)" if name == "not_applicable" else ""))
    fields = {k: v for k, v in raw.items() if k in SPONSOR_FIELDS and v not in (None, "", [], {})}
    td = fields.get("training_data")
    if isinstance(td, dict):
        for lst in ("subjects", "sha256"):
            if lst in td and not isinstance(td[lst], list):
                raise SponsorError(f"{p}: `training_data.{lst}` must be a list")
    return SponsorMetadata(source=str(p), fields=fields, answers=dict(raw.get("answers") or {}),
                           not_applicable=dict(raw.get("not_applicable") or {}))
