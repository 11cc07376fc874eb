"""JUnit XML for the release gate, so any CI system (GitLab, Jenkins, GitHub actions with a
JUnit reporter, Azure) lists one test per criterion and stratum.

Structure (the common subset of Ant's ``XMLJUnitResultFormatter`` output and the Jenkins
``junit-10.xsd`` schema by G. Boissinot, which every CI reader accepts)::

    <testsuites name tests failures errors skipped time>
      <testsuite name tests failures errors skipped time timestamp hostname>
        <properties><property name value/>...</properties>
        <testcase classname name time>
          <failure type message>details</failure>      (failed criterion)
          <error type message>details</error>          (runs not comparable)
          <system-out>details</system-out>
        </testcase>
      </testsuite>
    </testsuites>

``tests`` counts the ``testcase`` elements, ``failures`` those with a ``failure`` child and
``errors`` those with an ``error`` child; ``failure``/``error`` carry both ``type`` and
``message`` (required in junit-10.xsd); ``time`` is in seconds (0: nothing is timed);
``timestamp`` is ISO 8601 without a zone, as the schema's ``xs:dateTime`` pattern expects.
"""

from __future__ import annotations

import datetime as _dt
import socket
import xml.etree.ElementTree as ET

__all__ = ["verdicts_to_junit", "not_comparable_junit"]


def _suite(root_name: str, suite_name: str, properties: dict) -> tuple[ET.Element, ET.Element]:
    root = ET.Element("testsuites", name=root_name)
    suite = ET.SubElement(root, "testsuite", name=suite_name)
    props = ET.SubElement(suite, "properties")
    for k, v in properties.items():
        ET.SubElement(props, "property", name=str(k), value=str(v))
    return root, suite


def _finish(root: ET.Element, suite: ET.Element) -> str:
    cases = suite.findall("testcase")
    counts = {"tests": len(cases),
              "failures": sum(1 for c in cases if c.find("failure") is not None),
              "errors": sum(1 for c in cases if c.find("error") is not None),
              "skipped": sum(1 for c in cases if c.find("skipped") is not None)}
    stamp = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")
    for el in (root, suite):
        for k, v in counts.items():
            el.set(k, str(v))
        el.set("time", "0")
    suite.set("timestamp", stamp)
    suite.set("hostname", socket.gethostname() or "localhost")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def verdicts_to_junit(result) -> str:
    """A :class:`~suite.gate.GateResult` as JUnit XML (one ``testcase`` per verdict)."""
    root, suite = _suite("cmrsuite gate", f"release gate: {result.candidate} vs {result.baseline}",
                         {"candidate": result.candidate, "baseline": result.baseline,
                          "comparable_by": result.basis,
                          "candidate_protocol_sha256": result.candidate_protocol_sha256,
                          "baseline_protocol_sha256": result.baseline_protocol_sha256,
                          "evaluation_sha256": result.evaluation_sha256,
                          "alpha": result.settings.alpha})
    for v in result.verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"cmrsuite.gate.{v.kind}",
                             name=v.name, time="0")
        if not v.passed:
            f = ET.SubElement(case, "failure", type="GateCriterionFailed", message=v.message)
            f.text = v.summary()
        out = ET.SubElement(case, "system-out")
        out.text = v.summary()
    return _finish(root, suite)


def not_comparable_junit(candidate: str, baseline: str, reasons: list[str]) -> str:
    """JUnit XML with one errored test case ``comparability`` listing why the runs differ."""
    root, suite = _suite("cmrsuite gate", f"release gate: {candidate} vs {baseline}",
                         {"candidate": candidate, "baseline": baseline})
    case = ET.SubElement(suite, "testcase", classname="cmrsuite.gate", name="comparability",
                         time="0")
    err = ET.SubElement(case, "error", type="GateNotComparable", message="; ".join(reasons))
    err.text = "\n".join(reasons)
    return _finish(root, suite)
