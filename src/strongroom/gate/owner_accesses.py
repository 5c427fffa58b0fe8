"""An owner's view of who looked at their record (`GET /v1/me/accesses`).

Every disclosure of the owner's record, from the journal: when, the organisation and role
(never the agent), the purpose and the kind of case, and which categories of fields were
revealed. Estonia's data tracker and Denmark's health-record access log show citizens
exactly this: the strongest deterrent against curious insiders there is. Accesses under a
covert case (a police investigation) are withheld while the case is open and appear once it
closes; the answer says so. The owner's own reads are left out; the page is journaled.
"""

from __future__ import annotations

from typing import Any

from strongroom import endpoints as ep
from strongroom.context import Caller
from strongroom.errors import BadRequest
from strongroom.gate.pipeline import Answer, Disclosure, Pipeline, Task
from strongroom.ids import is_public_id
from strongroom.journal.investigate import Investigator
from strongroom.policy.model import CasesSpec
from strongroom.registry.repository import PrincipalRow, Registry

WITHHELD_NOTE = (
    "Accesses made under an investigation that is still open are not shown yet; they "
    "appear here once it is closed."
)


class OwnerAccesses:
    def __init__(
        self,
        *,
        pipeline: Pipeline,
        investigator: Investigator,
        registry: Registry,
        cases: CasesSpec,
    ) -> None:
        self.pipeline = pipeline
        self.investigator = investigator
        self.registry = registry
        self.cases = cases

    def accesses(
        self, caller: Caller, *, before: int | None = None, limit: int | None = None
    ) -> Answer:
        def work(t: Task) -> Disclosure:
            size = t.page_size if limit is None else limit
            if not 1 <= size <= t.page_size:
                raise BadRequest(f"limit must be between 1 and {t.page_size}", reason="page_size")
            self.pipeline.journal.flush()
            report = self.investigator.subject_report(caller.principal_id)
            shown = [
                a
                for a in report["accesses"]
                if a["fields"] and a["principal"] != caller.principal_id
            ]
            items, withheld = self._describe(shown)
            items.sort(key=lambda a: a["index"], reverse=True)
            if before is not None:
                items = [a for a in items if a["index"] < before]
            page = items[:size]
            body: dict[str, Any] = {
                "items": [{k: v for k, v in a.items() if k != "index"} for a in page],
                "next_before": page[-1]["index"] if len(items) > size else None,
                "note": WITHHELD_NOTE,
            }
            return Disclosure(body=body, detail={"own_records": True, "withheld": withheld})

        return self.pipeline.serve(caller, ep.ME_ACCESSES, work, expected_records=0)

    def _describe(self, accesses: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
        out, withheld = [], 0
        with self.registry.session() as s:
            principals: dict[str, PrincipalRow | None] = {}
            cases: dict[str, Any] = {}
            for a in accesses:
                case_id = a.get("case")
                case = None
                if case_id and is_public_id(case_id):
                    if case_id not in cases:
                        cases[case_id] = self.registry.case(s, case_id)
                    case = cases[case_id]
                kind = self.cases.kinds.get(case.kind) if case is not None else None
                if (
                    case is not None
                    and kind is not None
                    and kind.covert
                    and (case.status == "open")
                ):
                    withheld += 1
                    continue
                pid = a["principal"]
                if pid not in principals:
                    principals[pid] = self.registry.principal(s, pid)
                out.append(
                    {
                        "index": a["index"],
                        "when": a["when"],
                        "organisation": organisation(a.get("role"), principals[pid]),
                        "role": a.get("role"),
                        "purpose": a.get("purpose"),
                        "case_kind": case.kind if case is not None else None,
                        "categories": sorted({f.partition(".")[0] for f in a["fields"]} - {"ref"}),
                    }
                )
        return out, withheld


def organisation(role: str | None, principal: PrincipalRow | None) -> str:
    """Who, as an organisation: a prefecture or police département, a dealer; never the
    agent."""
    departement = principal.departement if principal is not None else None
    if role == "prefecture":
        return f"prefecture of département {departement}" if departement else "prefecture"
    if role == "police":
        return f"police, département {departement}" if departement else "police (national)"
    if role == "dealer":
        dealer = principal.dealer_public_id if principal is not None else None
        return f"dealer {dealer}" if dealer else "dealer"
    return role or "unknown"
