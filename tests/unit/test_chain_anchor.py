"""``history --check`` holds the stored chain against its anchored head: truncation,
re-chaining with Molt's own hashing, a deleted record and unhashed lines all fail,
however valid the chain itself looks."""

from __future__ import annotations

from dataclasses import replace

from backends.core import chain
from backends.core.journal import UNVERIFIED, Journal, JournalRecord, read_lines


def _sealed(records: list[JournalRecord]) -> list[str]:
    lines: list[str] = []
    for record in records:
        lines.append(chain.seal(record.to_json(), chain.hash_of(lines[-1]) if lines else ""))
    return lines


WRITES = [
    JournalRecord(fleet="web", action=a, operator="amy", args={"generation": "g1"})
    for a in ("launch", "promote", "verify", "retire")
]


def test_an_intact_chain_at_its_anchor_passes():
    lines = _sealed(WRITES)
    report = chain.check(lines, chain.head_of(lines), "the local agent")
    assert report.intact and report.records == 4 and report.anchored == "the local agent"


def test_truncation_is_a_failure_though_the_rest_chains():
    lines = _sealed(WRITES)
    report = chain.check(lines[:2], chain.head_of(lines), "the local agent")
    assert not report.intact
    assert "truncated: it holds 2 records, the local agent anchored 4" in report.broken


def test_a_rechained_journal_is_a_failure():
    lines = _sealed(WRITES)
    forged = _sealed([WRITES[0], *(replace(w, operator="bob") for w in WRITES[1:])])
    assert chain.check(forged).records == 4  # the chain alone holds
    report = chain.check(forged, chain.head_of(lines), "the hosts")
    assert not report.intact and "re-chained" in report.broken


def test_a_drift_record_deleted_and_rechained_is_a_failure():
    lines = _sealed(WRITES)
    without = _sealed([w for w in WRITES if w.action != "verify"])
    report = chain.check(without, chain.head_of(lines), "the agent")
    assert "truncated" in report.broken


def test_an_unhashed_line_before_the_first_is_a_failure_and_shown_unverified():
    lines = _sealed(WRITES)
    forged = JournalRecord(fleet="web", action="promote", operator="eve", args={"generation": "g9"})
    stored = [forged.to_line(), *lines]
    report = chain.check(stored, chain.head_of(lines), "the agent")
    assert not report.intact and report.unhashed == 1
    assert "1 records carry no hash (record 1)" in report.broken
    records = read_lines(stored, "web")
    shown = {r.operator: r for r in records}
    assert shown["eve"].unverified and shown["eve"].summary().startswith(UNVERIFIED)
    assert not shown["amy"].unverified


def test_no_anchor_is_a_failure_for_a_journal_with_records():
    lines = _sealed(WRITES)
    assert "anchored nowhere" in chain.check(lines, None, "the agent").broken
    assert chain.check([], None, "the agent").intact


class _BeingWritten(Journal):
    """A journal that another Molt writes to while it is checked: one write lands
    between each look at the anchor and the read of the lines (``shift`` the count)."""

    anchored_at = "the test"

    def __init__(self, writes: int, shift: int) -> None:
        self.all = _sealed(
            [replace(WRITES[0], action="shift", id=f"w{n}") for n in range(writes)]
        )
        self.stored = 2
        self.shift = shift

    async def write(self, record: JournalRecord) -> None:
        raise AssertionError("checking writes nothing")

    def _land(self) -> None:
        self.stored = min(len(self.all), self.stored + self.shift)

    async def lines(self, fleet: str) -> list[str]:
        self._land()
        return self.all[: self.stored]

    async def anchor(self, fleet: str) -> chain.Anchor | None:
        self._land()
        return chain.head_of(self.all[: self.stored])


async def test_writes_landing_while_the_journal_is_checked_are_not_tampering():
    """Lines read between two looks at the anchor: neither the earlier look (records
    beyond the head) nor the later one (truncation) may be reported as a failure."""
    for shift in (1, 2):
        report = await _BeingWritten(writes=40, shift=shift).check("web")
        assert report.intact, report.broken


async def test_a_truncated_journal_being_written_is_still_reported():
    journal = _BeingWritten(writes=10, shift=1)
    journal.lines = lambda fleet: _as_async(journal.all[:3])  # type: ignore[method-assign]
    report = await journal.check("web")
    assert not report.intact and "truncated" in report.broken


async def _as_async(lines: list[str]) -> list[str]:
    return lines
