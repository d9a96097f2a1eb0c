"""What the judge stage keeps on a job, as JSON in the job record: the documents' analysis
(``JobAnalysis``, written once by the analyser) and the judge's decision (``Decision``,
written when it decides). Both survive a restart, so a job is never analysed or judged
twice for one printing, and any node can carry on from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from printhost.analysis.model import Analysis
from printhost.jobs.model import JobRecord
from printhost.rules.model import Watermark


class RecordError(ValueError):
    """Stored JSON that does not decode (written by a different version, or damaged)."""


@dataclass(frozen=True, slots=True)
class JobAnalysis:
    """One analysis per document in document order, or why the documents were refused."""

    documents: tuple[Analysis, ...] = ()
    error: str = ""

    @property
    def pages(self) -> int:
        return sum(a.pages for a in self.documents)

    @property
    def color_pages(self) -> int:
        return sum(len(a.color_pages) for a in self.documents)

    def to_json(self) -> str:
        if self.error:
            return json.dumps({"error": self.error})
        return json.dumps({"documents": [a.to_json() for a in self.documents]})

    @classmethod
    def from_json(cls, text: str) -> JobAnalysis:
        data = _object(text)
        if "error" in data:
            return cls(error=str(data["error"]))
        try:
            return cls(tuple(Analysis.from_json(d) for d in data["documents"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(f"stored analysis does not decode: {exc}") from None


@dataclass(frozen=True, slots=True)
class Decision:
    """What the judge decided, and everything the dispatcher needs to carry it out."""

    verdict: str  # allow | hold (by a rule: printing follows the owner's release)
    message: str  # for job-state-message; "" when nothing fired
    rules: tuple[str, ...] = ()  # the rules that fired, in order
    destination: str = ""  # the printer or pool the price is for
    account: str = ""  # the account charged ("" when the job costs nothing)
    cost_cents: int = 0
    impressions: int = 0
    color_impressions: int = 0
    sheets: int = 0
    grayscale: bool = False
    duplex: bool = False
    watermarks: tuple[Watermark, ...] = field(default=())

    def to_json(self) -> str:
        return json.dumps(
            {
                "verdict": self.verdict,
                "message": self.message,
                "rules": list(self.rules),
                "destination": self.destination,
                "account": self.account,
                "cost_cents": self.cost_cents,
                "impressions": self.impressions,
                "color_impressions": self.color_impressions,
                "sheets": self.sheets,
                "grayscale": self.grayscale,
                "duplex": self.duplex,
                "watermarks": [
                    {"text": w.text, "position": w.position, "opacity": w.opacity}
                    for w in self.watermarks
                ],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Decision:
        data = _object(text)
        try:
            return cls(
                verdict=str(data["verdict"]),
                message=str(data["message"]),
                rules=tuple(str(r) for r in data["rules"]),
                destination=str(data["destination"]),
                account=str(data["account"]),
                cost_cents=int(data["cost_cents"]),
                impressions=int(data["impressions"]),
                color_impressions=int(data["color_impressions"]),
                sheets=int(data["sheets"]),
                grayscale=bool(data["grayscale"]),
                duplex=bool(data["duplex"]),
                watermarks=tuple(
                    Watermark(str(w["text"]), str(w["position"]), float(w["opacity"]))
                    for w in data["watermarks"]
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(f"stored decision does not decode: {exc}") from None


def analysis_of(job: JobRecord) -> JobAnalysis | None:
    return None if job.analysis is None else JobAnalysis.from_json(job.analysis)


def decision_of(job: JobRecord) -> Decision | None:
    return None if job.judgement is None else Decision.from_json(job.judgement)


def _object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RecordError(f"stored JSON does not decode: {exc}") from None
    if not isinstance(data, dict):
        raise RecordError("stored JSON is not an object")
    return data
