"""The judge stage in process: analyse → price → rules → reserve, then print, commit or
release, on a real SQLite store and spool, the real analysis worker, and ``file:``
printers (a printed job is a sidecar file whose attributes show what was sent). The clock is
fake: held-job expiry and allocations move it by hand.

Documents: plain text (66 lines a page, always mono) and a PNG (one page; red = colour).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image

from printhost import housekeeping
from printhost.accounting import ledger
from printhost.accounting.ledger import ReservationState
from printhost.accounting.money import ZERO, Money
from printhost.analysis import analyze_file
from printhost.app import wire
from printhost.clock import FakeClock
from printhost.config import parse_config
from printhost.dispatch.dispatcher import Dispatcher
from printhost.formats import HEAD_BYTES, detect_format
from printhost.ipp.constants import JobState, Tag
from printhost.ipp.model import Attribute
from printhost.jobs.model import JobId, JobRecord
from printhost.jobs.service import JobSpec
from printhost.judge.records import Decision
from printhost.judge.stage import release_money_holds
from printhost.server.job_attributes import encode_template
from printhost.server.services import Services
from printhost.store import open_store
from printhost.store.base import NewDocument, NewEvent
from printhost.store.spool import Spool

END = {JobState.COMPLETED, JobState.ABORTED, JobState.CANCELED}
HELD = {JobState.PENDING_HELD}


@dataclass
class World:
    services: Services
    dispatcher: Dispatcher
    clock: FakeClock
    root: Path

    def sidecar(self, job: JobRecord, printer: str = "mono") -> dict[str, Any]:
        path = self.root / "out" / printer / f"job-{job.id}.json"
        return dict(json.loads(path.read_text()))

    async def balance(self, account: str = "alice") -> tuple[Money, Money]:
        found = await self.services.store.get_balance(account)
        return found.available, found.reserved


def _printer(root: Path, name: str, **extra: Any) -> dict[str, Any]:
    directory = root / "out" / name
    directory.mkdir(parents=True, exist_ok=True)
    return {"name": name, "uri": directory.as_uri(), **extra}


def _config(root: Path, **sections: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "storage": {"state_dir": str(root / "var")},
        "delivery": {"timeout_seconds": 5},
        "printers": [_printer(root, "mono"), _printer(root, "other")],
        "pools": [{"name": "room", "members": ["mono", "other"]}],
        "queues": [
            {"name": "myprinter", "destination": "mono"},
            {"name": "room", "destination": "room"},
            {"name": "other", "destination": "other"},
        ],
        "accounting": {"enabled": True, "initial_balance": "1.00"},
        "costs": [{"mono": "0.10", "color": "0.50"}],
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


@contextlib.asynccontextmanager
async def _world(root: Path, **sections: Any) -> AsyncIterator[World]:
    config = parse_config(_config(root, **sections), base=root)
    store = await open_store(config.storage.effective_database_url)
    clock = FakeClock()
    services, dispatcher = wire(config, store, Spool(config.storage.spool_dir), clock, "node")
    if services.charges is not None:
        await services.charges.sync_shared_accounts(config.members_by_group())
    runner = asyncio.create_task(dispatcher.run())
    try:
        yield World(services, dispatcher, clock, root)
    finally:
        while not runner.done():
            runner.cancel()
            await asyncio.wait({runner}, timeout=1)
        await asyncio.gather(runner, return_exceptions=True)
        await dispatcher.aclose()
        await store.close()


def _text(pages: int) -> bytes:
    return b"line\n" * (66 * pages)


def _png(rgb: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), rgb).save(out, "PNG")
    return out.getvalue()


async def _submit(
    w: World,
    data: bytes,
    *template: Attribute,
    owner: str = "alice",
    queue: str = "myprinter",
    **spec: Any,
) -> JobRecord:
    writer = w.services.spool.writer("t")
    writer.write(data)
    stored = await writer.commit()
    detected = detect_format(data[:HEAD_BYTES]) or "application/octet-stream"
    document = NewDocument(
        stored.path, detected, "application/octet-stream", "doc", stored.size, stored.sha256
    )
    job = JobSpec(
        queue=queue,
        owner=owner,
        owner_authenticated=True,
        originating_host="h",
        name="doc",
        template=encode_template(template) if template else b"",
        **spec,
    )
    return await w.services.jobs.submit(job, [document])


async def _until(w: World, job_id: JobId, states: set[JobState]) -> JobRecord:
    """Wait (real time, bounded) for one of ``states``; an ended job also for its charge to
    be settled (that follows the move)."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        job = await w.services.store.get_job(job_id)
        assert job is not None
        reservation = await w.services.store.get_reservation(job_id)
        settled = reservation is None or reservation.state != ReservationState.RESERVED
        if job.state in states and (settled or job.state not in END):
            return job
        assert asyncio.get_running_loop().time() < deadline, f"job {job_id} stuck: {job}"
        await asyncio.sleep(0.02)


def _decision(job: JobRecord) -> Decision:
    assert job.judgement is not None
    return Decision.from_json(job.judgement)


# --- charging ----------------------------------------------------------------------------


async def test_a_job_is_analysed_priced_charged_and_printed(tmp_path: Path) -> None:
    async with _world(tmp_path) as w:
        job = await _submit(w, _text(2))
        done = await _until(w, job.id, END)
        assert done.state == JobState.COMPLETED
        decision = _decision(done)
        assert (decision.impressions, decision.cost_cents, decision.account) == (2, 20, "alice")
        assert "cost 0.20 to alice" in done.state_message
        assert await w.balance() == (Money(80), ZERO)
        assert (await w.services.store.get_reservation(job.id)).state == ReservationState.COMMITTED
        assert await w.services.store.ledger_sum() == ZERO


async def test_too_little_balance_holds_the_job_until_a_credit(tmp_path: Path) -> None:
    async with _world(tmp_path, accounting={"initial_balance": "0.10"}) as w:
        job = await _submit(w, _text(3))
        held = await _until(w, job.id, HELD)
        assert held.state_reasons == ("account-limit-reached",)
        assert held.state_message == "held: balance 0.10 < cost 0.30"
        credit = ledger.credit("alice", Money(100), time=w.clock.now(), reason="top up")
        await w.services.store.post_transaction(credit)
        assert await release_money_holds(w.services.jobs, "alice") == 1
        done = await _until(w, job.id, END)
        assert done.state == JobState.COMPLETED
        assert await w.balance() == (Money(80), ZERO)
        assert await w.services.store.ledger_sum() == ZERO


async def test_insufficient_deny_refuses_the_job_with_the_reason(tmp_path: Path) -> None:
    accounting = {"initial_balance": "0.00", "insufficient": "deny"}
    async with _world(tmp_path, accounting=accounting) as w:
        done = await _until(w, (await _submit(w, _text(1))).id, END)
        assert done.state == JobState.ABORTED
        assert done.state_message == "denied: balance 0.00 < cost 0.10"


async def test_a_free_printer_prints_for_an_account_in_debt(tmp_path: Path) -> None:
    costs = [{"destinations": ["other"], "free": True}, {"mono": "0.10"}]
    async with _world(tmp_path, costs=costs, accounting={"initial_balance": "0.00"}) as w:
        job = await _submit(w, _text(5), queue="other")
        assert (await _until(w, job.id, END)).state == JobState.COMPLETED
        assert await w.services.store.get_reservation(job.id) is None


async def test_a_shared_account_chosen_with_job_account_id(tmp_path: Path) -> None:
    accounts = [{"name": "physics", "members": ["alice"]}]
    async with _world(tmp_path, accounts=accounts) as w:
        credit = ledger.credit("physics", Money(500), time=w.clock.now(), reason="budget")
        await w.services.store.post_transaction(credit)
        account_id = Attribute.of("job-account-id", Tag.NAME, "physics")
        done = await _until(w, (await _submit(w, _text(2), account_id)).id, END)
        assert _decision(done).account == "physics"
        assert await w.balance("physics") == (Money(480), ZERO)
        refused = await _until(w, (await _submit(w, _text(1), account_id, owner="bob")).id, HELD)
        assert refused.state_reasons == ("account-authorization-failed",)
        assert "bob may not charge account 'physics'" in refused.state_message


# --- rules -------------------------------------------------------------------------------------


RED = (255, 0, 0)


async def test_colour_to_a_mono_rule_is_printed_in_grayscale(tmp_path: Path) -> None:
    rules = [{"name": "mono-only", "action": "grayscale", "color": True}]
    async with _world(tmp_path, rules=rules) as w:
        colour = Attribute.of("print-color-mode", Tag.KEYWORD, "color")
        done = await _until(w, (await _submit(w, _png(RED), colour)).id, END)
        assert done.state == JobState.COMPLETED
        decision = _decision(done)
        assert decision.grayscale and decision.rules == ("mono-only",)
        assert (decision.color_impressions, decision.cost_cents) == (0, 10)  # mono rate
        assert w.sidecar(done)["attributes"]["print-color-mode"] == "monochrome"
        assert "mono-only" in done.state_message


async def test_colour_to_a_deny_rule_is_refused_with_the_reason(tmp_path: Path) -> None:
    rules = [{"name": "no-colour", "action": "deny", "reason": "no colour here", "color": True}]
    async with _world(tmp_path, rules=rules) as w:
        done = await _until(w, (await _submit(w, _png(RED))).id, END)
        assert done.state == JobState.ABORTED
        assert done.state_message == "denied by rule 'no-colour': no colour here (1 colour page)"
        grey = await _until(w, (await _submit(w, _png((90, 90, 90)))).id, END)
        assert grey.state == JobState.COMPLETED  # an RGB grey is not colour
        assert await w.balance() == (Money(90), ZERO)


async def test_a_hold_rule_holds_and_its_release_prints_without_a_second_hold(
    tmp_path: Path,
) -> None:
    rules = [{"name": "big", "action": "hold", "reason": "big job", "max_pages": 1}]
    async with _world(tmp_path, rules=rules) as w:
        held = await _until(w, (await _submit(w, _text(2))).id, HELD)
        assert held.state_reasons == ("job-held-for-review",)
        assert held.state_message == "held by rule 'big': big job (2 pages > 1)"
        assert await w.balance() == (Money(100), ZERO)  # nothing reserved while held
        await w.services.jobs.release(held)
        assert (await _until(w, held.id, END)).state == JobState.COMPLETED
        assert await w.balance() == (Money(80), ZERO)


async def test_a_hostile_document_is_denied_with_the_analysers_reason(tmp_path: Path) -> None:
    async with _world(tmp_path) as w:
        done = await _until(w, (await _submit(w, b"\x00\x01\x02 not a document")).id, END)
        assert done.state == JobState.ABORTED
        assert done.state_message == (
            "denied: the document cannot be printed (unrecognised document format)"
        )


async def test_released_at_a_chosen_printer_of_the_pool(tmp_path: Path) -> None:
    async with _world(tmp_path) as w:
        job = await _submit(w, _text(1), queue="room", hold_until="indefinite")
        await w.services.jobs.update(job, {"release_printer": "other"})
        await w.services.jobs.release(await _until(w, job.id, HELD))
        done = await _until(w, job.id, END)
        assert done.printer == "other"
        assert w.sidecar(done, "other")["job-id"] == job.id


# --- settling, crashes, expiry, allocations ----------------------------------------------------


async def test_a_canceled_held_job_releases_nothing_it_never_reserved_and_a_canceled_reserved_job_releases(  # noqa: E501
    tmp_path: Path,
) -> None:
    async with _world(tmp_path) as w:
        job = await _submit(w, _text(3), hold_until="indefinite")
        charges = w.services.charges
        assert charges is not None
        fake = Decision("allow", "", destination="mono", account="alice", cost_cents=30)
        assert await charges.reserve(job, fake) is None
        assert await w.balance() == (Money(70), Money(30))
        await w.services.jobs.cancel(await _until(w, job.id, HELD))
        assert await w.balance() == (Money(100), ZERO)
        assert (await w.services.store.get_reservation(job.id)).state == ReservationState.RELEASED


async def test_a_crash_between_the_end_and_the_settling_is_resolved_at_restart(
    tmp_path: Path,
) -> None:
    async with _world(tmp_path) as w:
        charges = w.services.charges
        assert charges is not None
        ended = []
        for state in (JobState.COMPLETED, JobState.ABORTED):
            job = await _submit(w, _text(2), hold_until="indefinite")
            decision = Decision("allow", "", destination="mono", account="alice", cost_cents=20)
            await w.services.store.update_job(job.id, {"judgement": decision.to_json()})
            assert await charges.reserve(job, decision) is None
            # The job ends but the process dies before settling: the store is written
            # directly, as the crashed node left it.
            event = NewEvent("job-completed", w.clock.now())
            moved = await w.services.store.transition_job(
                job.id, (JobState.PENDING_HELD,), state, reasons=("none",), message="",
                event=event,
            )  # fmt: skip
            assert moved is not None
            ended.append(job.id)
        assert await w.balance() == (Money(60), Money(40))
        assert await w.services.store.ledger_sum() == ZERO
        assert await charges.resolve_open() == 2  # what the restart does
        assert await charges.resolve_open() == 0
        states = [(await w.services.store.get_reservation(j)).state for j in ended]
        assert states == ["committed", "released"]
        assert await w.balance() == (Money(80), ZERO)
        assert await w.services.store.ledger_sum() == ZERO


async def test_fewer_impressions_reported_are_refunded(tmp_path: Path) -> None:
    async with _world(tmp_path) as w:
        charges = w.services.charges
        assert charges is not None
        job = await _submit(w, _text(4), hold_until="indefinite")
        decision = Decision(
            "allow", "", destination="mono", account="alice", cost_cents=40, impressions=4
        )
        await w.services.store.update_job(
            job.id, {"judgement": decision.to_json(), "impressions_completed": 3}
        )
        assert await charges.reserve(job, decision) is None
        ended = await w.services.store.transition_job(
            job.id, (JobState.PENDING_HELD,), JobState.COMPLETED, reasons=("none",),
            message="", event=NewEvent("job-completed", w.clock.now()),
        )  # fmt: skip
        assert ended is not None
        await charges.settle(ended)
        reservation = await w.services.store.get_reservation(job.id)
        assert (reservation.state, reservation.refunded) == ("committed", Money(10))
        assert await w.balance() == (Money(70), ZERO)


async def test_concurrent_reservations_never_overdraw(tmp_path: Path) -> None:
    async with _world(tmp_path, accounting={"overdraft": "0.50"}) as w:
        charges = w.services.charges
        assert charges is not None
        jobs = [await _submit(w, _text(1), hold_until="indefinite") for _ in range(20)]
        await charges.open_personal("alice")

        async def reserve(job: JobRecord) -> bool:
            decision = Decision("allow", "", destination="mono", account="alice", cost_cents=30)
            return await charges.reserve(job, decision) is None

        made = await asyncio.gather(*(reserve(j) for j in jobs))
        assert sum(made) == 5  # 1.00 + 0.50 overdraft covers five jobs of 0.30
        available, reserved = await w.balance()
        assert (available, reserved) == (Money(-50), Money(150))
        assert await w.services.store.ledger_sum() == ZERO


async def test_held_jobs_expire_and_their_reservation_is_released(tmp_path: Path) -> None:
    async with _world(tmp_path, accounting={"held_job_expiry_hours": 1}) as w:
        job = await _submit(w, _text(1), hold_until="indefinite")
        charges = w.services.charges
        assert charges is not None
        decision = Decision("allow", "", destination="mono", account="alice", cost_cents=10)
        assert await charges.reserve(job, decision) is None
        assert await housekeeping.expire_held_jobs(w.services) == 0
        w.clock.advance(3601)
        assert await housekeeping.expire_held_jobs(w.services) == 1
        gone = await _until(w, job.id, END)
        assert gone.state == JobState.CANCELED
        assert "held for more than 1 h" in gone.state_message
        assert [d.path for d in gone.documents] == [""]  # the document is gone
        assert not w.services.spool.path(job.documents[0].path).exists()
        assert await w.balance() == (Money(100), ZERO)


async def test_allocations_are_credited_once_per_period(tmp_path: Path) -> None:
    allocations = [{"users": ["alice"], "amount": "2.00", "period": "daily", "mode": "top-up"}]
    async with _world(tmp_path, allocations=allocations) as w:
        assert w.services.charges is not None
        await w.services.charges.open_personal("alice")
        assert await housekeeping.apply_allocations(w.services) == 1
        assert await housekeeping.apply_allocations(w.services) == 0
        assert await w.balance() == (Money(200), ZERO)
        debit = ledger.debit("alice", Money(150), time=w.clock.now(), reason="spent")
        await w.services.store.post_transaction(debit)
        w.clock.advance(86400)
        assert await housekeeping.apply_allocations(w.services) == 1
        assert await w.balance() == (Money(200), ZERO)
        assert await w.services.store.ledger_sum() == ZERO


async def test_accounting_off_prints_without_analysis_or_charge(tmp_path: Path) -> None:
    async with _world(tmp_path, accounting={"enabled": False}) as w:
        assert w.services.charges is None
        done = await _until(w, (await _submit(w, b"\x00 not a document")).id, END)
        assert done.state == JobState.COMPLETED  # nobody judged it: printed as sent
        assert (done.analysis, done.judgement) == (None, None)
        assert await w.services.store.list_accounts() == []


def _colour_pdf(path: Path) -> Path:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    pdf.pages[0].Contents = pdf.make_stream(b"1 0 0 rg 20 20 100 100 re f")
    pdf.save(path)
    return path


async def test_pdf_is_converted_to_grayscale_and_watermarked_for_the_printer(
    tmp_path: Path,
) -> None:
    rules = [
        {"name": "mono-only", "action": "grayscale", "color": True},
        {"name": "stamp", "action": "watermark", "watermark": "{user} job {job_id}"},
    ]
    async with _world(tmp_path, rules=rules) as w:
        data = _colour_pdf(tmp_path / "colour.pdf").read_bytes()
        done = await _until(w, (await _submit(w, data)).id, END)
        assert done.state == JobState.COMPLETED
        printed = next((tmp_path / "out" / "mono").glob(f"job-{done.id}-1.*"))
        assert analyze_file(printed).color_pages == ()
        page = pdfium.PdfDocument(printed)[0]
        assert f"alice job {done.id}" in page.get_textpage().get_text_range()


async def test_a_restarted_job_is_judged_and_charged_again(tmp_path: Path) -> None:
    async with _world(tmp_path) as w:
        charges = w.services.charges
        assert charges is not None
        job = await _submit(w, _text(2), hold_until="indefinite")
        decision = Decision("allow", "", destination="mono", account="alice", cost_cents=20)
        await w.services.store.update_job(job.id, {"judgement": decision.to_json()})
        assert await charges.reserve(job, decision) is None
        canceled = await w.services.jobs.cancel(await _until(w, job.id, HELD))
        assert await w.balance() == (Money(100), ZERO)  # released
        await w.services.jobs.restart(canceled)  # a canceled job keeps its documents
        done = await _until(w, job.id, END)
        assert done.state == JobState.COMPLETED
        assert _decision(done).cost_cents == 20  # judged again (the restart forgot it)
        assert await w.balance() == (Money(80), ZERO)
        assert len(await w.services.store.list_transactions(job_id=job.id)) == 4
        assert await w.services.store.ledger_sum() == ZERO


async def test_a_judge_that_fails_holds_the_job_and_its_route_goes_on(tmp_path: Path) -> None:
    async with _world(tmp_path) as w:
        broken = await _submit(w, _text(1), hold_until="indefinite")
        await w.services.store.update_job(broken.id, {"judgement": "{not json"})
        await w.services.store.update_job(broken.id, {"analysis": '{"documents": 7}'})
        await w.services.jobs.release(await _until(w, broken.id, HELD))
        held = await _until(w, broken.id, HELD)
        assert held.state_reasons == ("job-held-for-review",)
        assert "could not be judged (internal error, logged)" in held.state_message
        behind = await _submit(w, _text(1))  # the same route (alice's): not blocked
        assert (await _until(w, behind.id, END)).state == JobState.COMPLETED


async def test_ipp_job_attributes_show_pages_impressions_and_sheets(tmp_path: Path) -> None:
    from printhost.server.job_attributes import JobView, job_attributes

    async with _world(tmp_path) as w:
        copies = Attribute.of("copies", Tag.INTEGER, 2)
        sides = Attribute.of("sides", Tag.KEYWORD, "two-sided-long-edge")
        done = await _until(w, (await _submit(w, _text(3), copies, sides)).id, END)
        view = JobView(
            job_uri=lambda i: f"ipp://h/jobs/{i}", printer_uri=lambda q: f"ipp://h/{q}",
            more_info=lambda i: "", up_time=0, intervening=0,
        )  # fmt: skip
        found = {a.name: a.value for a in job_attributes(done, view, private=False)}
        assert (found["job-pages"], found["job-impressions"], found["job-media-sheets"]) == (
            3, 6, 4,
        )  # fmt: skip


def test_configuration_refuses_shared_accounts_named_like_users_and_unknown_cost_targets(
    tmp_path: Path,
) -> None:
    from printhost.config import ConfigError

    clash = _config(tmp_path, accounts=[{"name": "alice", "members": ["bob"]}])
    clash["groups"] = [{"name": "staff", "members": ["alice"]}]
    with pytest.raises(ConfigError, match=r"accounts\.alice: 'alice' is a user's name"):
        parse_config(clash, base=tmp_path)
    unknown = _config(tmp_path, costs=[{"destinations": ["nowhere"], "mono": "0.10"}])
    with pytest.raises(ConfigError, match="no printer or pool 'nowhere'"):
        parse_config(unknown, base=tmp_path)


async def test_changing_a_judged_job_prices_it_again(tmp_path: Path) -> None:
    rules = [{"name": "big", "action": "hold", "reason": "big job", "max_pages": 10}]
    async with _world(tmp_path, rules=rules) as w:
        job = await _submit(w, _text(2), hold_until="indefinite")
        await w.services.jobs.release(await _until(w, job.id, HELD))
        done = await _until(w, job.id, END)
        assert _decision(done).cost_cents == 20
        # a second job, judged and reserved, then held and changed to 3 copies
        second = await _submit(w, _text(2))
        await _until(w, second.id, END)
        held = await _submit(w, _text(1), hold_until="indefinite")
        decision = Decision("allow", "", destination="mono", account="alice", cost_cents=10)
        await w.services.store.update_job(held.id, {"judgement": decision.to_json()})
        charges = w.services.charges
        assert charges is not None and await charges.reserve(held, decision) is None
        held = await _until(w, held.id, HELD)
        copies = encode_template([Attribute.of("copies", Tag.INTEGER, 3)])
        changed = await w.services.jobs.update(held, {"template": copies})
        assert changed.judgement is None  # judged again when it prints
        reservation = await w.services.store.get_reservation(held.id)
        assert reservation is not None and reservation.state == ReservationState.RELEASED
        await w.services.jobs.release(changed)
        done = await _until(w, held.id, END)
        assert (_decision(done).impressions, _decision(done).cost_cents) == (3, 30)
        assert await w.balance() == (Money(100 - 20 - 20 - 30), ZERO)
        assert await w.services.store.ledger_sum() == ZERO


async def test_a_job_owned_by_a_ledger_name_is_denied_not_stuck(tmp_path: Path) -> None:
    async with _world(tmp_path) as w:
        bad = await _submit(w, _text(1), owner="funding")
        done = await _until(w, bad.id, END)
        assert done.state == JobState.ABORTED
        assert "'funding' is a name the ledger keeps for itself" in done.state_message
        after = await _submit(w, _text(1), owner="funding")  # the next one is not blocked
        assert (await _until(w, after.id, END)).state == JobState.ABORTED


async def test_an_allocation_releases_jobs_held_for_money(tmp_path: Path) -> None:
    allocations = [{"users": ["alice"], "amount": "2.00", "period": "daily", "mode": "add"}]
    async with _world(
        tmp_path, accounting={"initial_balance": "0.00"}, allocations=allocations
    ) as w:
        job = await _submit(w, _text(1))
        held = await _until(w, job.id, HELD)
        assert held.state_reasons == ("account-limit-reached",)
        assert await housekeeping.apply_allocations(w.services) == 1
        assert (await _until(w, job.id, END)).state == JobState.COMPLETED


async def test_a_restart_charges_the_first_printing_if_it_was_not_settled(
    tmp_path: Path,
) -> None:
    async with _world(tmp_path) as w:
        charges = w.services.charges
        assert charges is not None
        job = await _submit(w, _text(2), hold_until="indefinite")
        decision = Decision("allow", "", destination="mono", account="alice", cost_cents=20)
        await w.services.store.update_job(job.id, {"judgement": decision.to_json()})
        assert await charges.reserve(job, decision) is None
        ended = await w.services.store.transition_job(
            job.id, (JobState.PENDING_HELD,), JobState.CANCELED, reasons=("none",),
            message="", event=NewEvent("job-completed", w.clock.now()),
        )  # fmt: skip
        assert ended is not None  # the node died before settling
        await w.services.jobs.restart(ended)
        first = [t for t in await w.services.store.list_transactions(job_id=job.id)]
        assert [str(t.kind) for t in first[:2]] == ["reserve", "release"]
        await _until(w, job.id, END)
        assert await w.balance() == (Money(80), ZERO)
        assert await w.services.store.ledger_sum() == ZERO
