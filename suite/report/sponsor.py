"""Sponsor metadata: what the suite cannot measure, declared by whoever submits the method.

The protocol points to a YAML file with the optional top-level key ``sponsor:`` (a path relative
to the protocol file). Its fields fill the *declared* parts of report items, shown as "declared
by the sponsor, not verified by cmrsuite"; they never fill a measured item. Two mappings answer
items directly: ``answers`` (``"claim:2": "text"``) and ``not_applicable`` (``"claim:34":
"reason"``; a reason is required). ``protocols/sponsors/example.yaml`` is the worked example.
Other keys are refused; :class:`SponsorError` names the file, the key path, what was expected and
what was found (``s.yaml: `anotators` is not a known key; expected one of [...] (did you mean
'annotators'?)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from suite._schema import KeyPathValidator
from suite._validation import KeyPathError, read_yaml_file

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


class SponsorError(KeyPathError):
    """A sponsor file that does not validate; names the file, the key path and the fix."""


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
    raw, p = read_yaml_file(path, SponsorError, "a sponsor metadata YAML file: fix the "
                            "protocol's `sponsor:` path (relative to the protocol file) or pass "
                            "--sponsor")
    raw = {} if raw is None else raw
    v = KeyPathValidator(p, SponsorError)
    v.mapping(raw, "(top level)")
    v.unknown_keys(raw, _TOP)
    for name in ("answers", "not_applicable"):
        why = " (the reason the item does not apply)" if name == "not_applicable" else ""
        for ref, text in v.section(raw, name).items():
            if not isinstance(ref, str) or ":" not in ref:
                v.fail(f"{name}.{ref}", "is not an item reference: expected 'guideline:item', "
                       f"e.g. 'claim:34', got {ref!r}")
            if not isinstance(text, str) or not text.strip():
                v.fail(f"{name}.{ref}", f"must be a non-empty text{why}; got {text!r}")
    fields = {k: val for k, val in raw.items()
              if k in SPONSOR_FIELDS and val not in (None, "", [], {})}
    td = fields.get("training_data")
    if isinstance(td, dict):
        for lst in ("subjects", "sha256"):
            if lst in td and not isinstance(td[lst], list):
                v.fail(f"training_data.{lst}", f"must be a list; got {td[lst]!r}")
    return SponsorMetadata(source=str(p), fields=fields, answers=dict(raw.get("answers") or {}),
                           not_applicable=dict(raw.get("not_applicable") or {}))
