"""The router (routing/router.py), pure: what a queue means now (``find_destination``),
which member prints a job (``choose``), and what a job needs (``needs_of``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printhost.config import Config, parse_config
from printhost.ipp.constants import Tag
from printhost.ipp.model import Attribute, Collection
from printhost.routing import names
from printhost.routing.router import (
    Deliver,
    Destination,
    Facts,
    Hold,
    Needs,
    Target,
    Unroutable,
    Wait,
    choose,
    default_destination,
    find_destination,
    follows_owner,
    needs_of,
    queue_user,
    route_key,
)
from printhost.store.base import AgentRecord, PresenceRecord, UserPreferences

NOW = 1_800_000_000.0
A4 = "iso_a4_210x297mm"
A3 = "iso_a3_297x420mm"

# --- building configurations and facts ---------------------------------------------------


def _printer(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "uri": f"ipp://{name}.example/ipp/print", **extra}


PRINTERS = [
    _printer("laser", color=False),
    _printer("colour"),
    _printer("simplex", duplex=False, media=[A4]),
    _printer("lobby", location="lobby"),
    _printer("spare"),
]
POOLS = [
    {"name": "office", "members": ["laser", "colour"], "location": "floor2"},
    {"name": "hall", "members": ["simplex"], "standby": ["spare"], "policy": "priority",
     "location": "lobby"},
]  # fmt: skip


def _config(**sections: Any) -> Config:
    data: dict[str, Any] = {"printers": PRINTERS, "pools": POOLS}
    data.update(sections)
    return parse_config(data, Path("/tmp"))


CONFIG = _config(
    queues=[
        {"name": "myprinter", "destination": "spare"},
        {"name": "q-laser", "destination": "laser"},
        {"name": "q-office", "destination": "office"},
        {"name": "q-hall", "printer": "hall"},
    ],
    mappings=[{"queue": "from-vm", "users": {"JSMITH7": "jsmith"}}],
)


def _facts(
    prefs: Sequence[UserPreferences] = (),
    presence: Sequence[PresenceRecord] = (),
    agents: Sequence[AgentRecord] = (),
) -> Facts:
    by_user: dict[str, list[PresenceRecord]] = {}
    for record in presence:
        by_user.setdefault(record.user, []).append(record)
    return Facts(
        preferences={p.user: p for p in prefs},
        presence=by_user,
        agents={a.host.lower(): a for a in agents},
    )


def _at(user: str, host: str, updated: float = NOW) -> PresenceRecord:
    return PresenceRecord(user, host, expires_at=NOW + 3600, updated_at=updated)


def _agent(host: str, location: str = "") -> AgentRecord:
    return AgentRecord(host.lower(), f"ipp://{host}:8000/ipp/print", NOW + 3600, NOW, location)


def _wants(user: str, destination: str = "", location: str = "") -> UserPreferences:
    return UserPreferences(user, destination=destination, location=location)


def _destination_name(result: Destination | Unroutable) -> str:
    assert isinstance(result, Destination), result
    return result.name


def _unroutable(result: Destination | Unroutable) -> str:
    assert isinstance(result, Unroutable), result
    return result.message


# --- find_destination: queues that follow their owner ------------------------------------


def test_myprinter_follows_the_owner() -> None:
    facts = _facts([_wants("alice", "laser"), _wants("bob", "office")])
    alice = find_destination(CONFIG, "myprinter", "alice", facts)
    assert alice == Destination("laser", (Target("laser", "ipp://laser.example/ipp/print",
                                                 color=False),))  # fmt: skip
    assert _destination_name(find_destination(CONFIG, "myprinter", "bob", facts)) == "office"


def test_mapping_queue_follows_the_mapped_owner() -> None:
    facts = _facts([_wants("jsmith", "office")])
    # intake already replaced JSMITH7 by jsmith: the job's owner is the mapped user
    assert _destination_name(find_destination(CONFIG, "from-vm", "jsmith", facts)) == "office"
    assert follows_owner(CONFIG, "from-vm") and follows_owner(CONFIG, "myprinter")
    assert not follows_owner(CONFIG, "q-laser")
    assert not follows_owner(CONFIG, "user-jsmith")


def test_route_keys_group_a_users_jobs_across_the_queues_that_follow_them() -> None:
    assert route_key(CONFIG, "myprinter", "alice") == "user-alice"
    assert route_key(CONFIG, "from-vm", "alice") == "user-alice"
    assert route_key(CONFIG, "q-laser", "alice") == "q-laser"
    assert route_key(CONFIG, "user-alice", "someone-else") == "user-alice"
    assert route_key(CONFIG, "myprinter", "a b") == names.user_queue("a b")


# --- find_destination: a user's queue ----------------------------------------------------


def test_user_queue_uses_its_users_preferences_whoever_owns_the_job() -> None:
    facts = _facts([_wants("bob", "laser"), _wants("operator", "office")])
    assert _destination_name(find_destination(CONFIG, "user-bob", "bob", facts)) == "laser"
    assert _destination_name(find_destination(CONFIG, "user-bob", "operator", facts)) == "laser"


def test_user_queue_of_a_hashed_name_belongs_to_the_owner_it_was_made_for() -> None:
    user = "DOMAIN\\j.smith"
    queue = names.user_queue(user)
    assert queue != "user-" + user
    assert queue_user(queue, user) == user
    facts = _facts([_wants(user, "office")])
    assert _destination_name(find_destination(CONFIG, queue, user, facts)) == "office"


@pytest.mark.parametrize("wanted", ["laser", "colour", "office", "hall"])
def test_preferred_printer_or_pool(wanted: str) -> None:
    facts = _facts([_wants("alice", wanted)])
    assert _destination_name(find_destination(CONFIG, "myprinter", "alice", facts)) == wanted
    assert _destination_name(find_destination(CONFIG, "user-alice", "alice", facts)) == wanted


def test_preferred_pool_has_its_members_standby_and_policy() -> None:
    result = find_destination(CONFIG, "myprinter", "alice", _facts([_wants("alice", "hall")]))
    assert isinstance(result, Destination)
    assert [t.name for t in result.members] == ["simplex"]
    assert [t.name for t in result.standby] == ["spare"]
    assert result.policy == "priority"
    simplex = result.members[0]
    assert (simplex.color, simplex.duplex, simplex.media) == (True, False, (A4,))


def test_preference_naming_a_destination_no_longer_configured_goes_to_the_default() -> None:
    facts = _facts([_wants("alice", "retired-printer")])
    assert _destination_name(find_destination(CONFIG, "myprinter", "alice", facts)) == "spare"


def test_desktop_with_presence_and_agent_goes_to_the_workstation() -> None:
    facts = _facts([_wants("alice", "desktop")], [_at("alice", "ws1")], [_agent("ws1")])
    result = find_destination(CONFIG, "myprinter", "alice", facts)
    assert result == Destination("local-ws1", (Target("local-ws1", "ipp://ws1:8000/ipp/print"),))


def test_desktop_host_names_are_case_insensitive() -> None:
    facts = _facts([_wants("alice", "desktop")], [_at("alice", "WS1.Example.COM")],
                   [_agent("ws1.example.com")])  # fmt: skip
    result = find_destination(CONFIG, "myprinter", "alice", facts)
    assert _destination_name(result) == "local-ws1.example.com"


def test_desktop_uses_the_most_recent_presence() -> None:
    # Facts hold presence most recent first, as the store lists it
    facts = _facts(
        [_wants("alice", "desktop")],
        [_at("alice", "ws2", NOW), _at("alice", "ws1", NOW - 60)],
        [_agent("ws1"), _agent("ws2")],
    )
    result = find_destination(CONFIG, "myprinter", "alice", facts)
    assert _destination_name(result) == "local-ws2"


def test_desktop_with_presence_but_no_agent_is_unroutable_naming_the_workstation() -> None:
    facts = _facts([_wants("alice", "desktop")], [_at("alice", "ws1")], [_agent("ws9")])
    message = _unroutable(find_destination(CONFIG, "myprinter", "alice", facts))
    assert "ws1" in message and "agent" in message


@pytest.mark.parametrize("absent", ["hold", None])  # None: the default setting
def test_desktop_without_presence_is_held_when_configured_so(absent: str | None) -> None:
    config = CONFIG if absent is None else _config(routing={"desktop_absent": absent})
    facts = _facts([_wants("alice", "desktop")], agents=[_agent("ws1")])
    message = _unroutable(find_destination(config, "myprinter", "alice", facts))
    assert "alice" in message and "logs in" in message


def test_desktop_without_presence_goes_to_the_default_when_configured_so() -> None:
    config = _config(routing={"desktop_absent": "default", "default_destination": "colour"})
    facts = _facts([_wants("alice", "desktop")])
    assert _destination_name(find_destination(config, "myprinter", "alice", facts)) == "colour"
    # the default for their location wins, as for users with no preference
    located = _facts([_wants("alice", "desktop", location="floor2")])
    assert _destination_name(find_destination(config, "myprinter", "alice", located)) == "office"


def test_presence_of_another_user_does_not_count() -> None:
    facts = _facts([_wants("alice", "desktop")], [_at("bob", "ws1")], [_agent("ws1")])
    assert "alice" in _unroutable(find_destination(CONFIG, "myprinter", "alice", facts))


# --- find_destination: no preference (the default chain) ----------------------------------


def test_location_from_preferences_picks_the_pool_there() -> None:
    facts = _facts([_wants("alice", location="floor2")])
    assert _destination_name(find_destination(CONFIG, "myprinter", "alice", facts)) == "office"


def test_at_one_location_a_pool_wins_over_a_printer() -> None:
    # "lobby" has the pool "hall" and the printer "lobby"
    facts = _facts([_wants("alice", location="lobby")])
    assert _destination_name(find_destination(CONFIG, "myprinter", "alice", facts)) == "hall"


def test_location_with_only_a_printer_picks_the_printer() -> None:
    config = _config(pools=[])
    facts = _facts([_wants("alice", location="lobby")])
    assert _destination_name(find_destination(config, "myprinter", "alice", facts)) == "lobby"


def test_location_from_the_agent_of_the_workstation_the_user_is_at() -> None:
    facts = _facts(presence=[_at("alice", "WS1")], agents=[_agent("ws1", location="floor2")])
    assert _destination_name(find_destination(CONFIG, "myprinter", "alice", facts)) == "office"


def test_preferred_location_wins_over_the_workstations() -> None:
    facts = _facts([_wants("alice", location="lobby")], [_at("alice", "ws1")],
                   [_agent("ws1", location="floor2")])  # fmt: skip
    assert _destination_name(find_destination(CONFIG, "myprinter", "alice", facts)) == "hall"


def test_unknown_location_falls_back_to_the_configured_default() -> None:
    config = _config(routing={"default_destination": "colour"})
    facts = _facts([_wants("alice", location="mars")])
    assert _destination_name(find_destination(config, "myprinter", "alice", facts)) == "colour"


def test_default_chain_routing_default_then_default_queue_then_first_printer() -> None:
    routing_default = _config(
        routing={"default_destination": "office"},
        queues=[{"name": "myprinter", "destination": "colour"}],
    )
    assert default_destination(routing_default, "") == "office"
    queue_default = _config(queues=[{"name": "myprinter", "destination": "hall"}])
    assert default_destination(queue_default, "") == "hall"
    # the default queue is not configured at all: the first printer
    no_default_queue = _config(queues=[{"name": "other", "destination": "colour"}])
    assert default_destination(no_default_queue, "") == "laser"
    assert default_destination(no_default_queue, "nowhere") == "laser"
    # with no queues configured the default queue goes to the first printer
    assert default_destination(_config(), "") == "laser"


def test_user_without_preferences_or_facts_gets_the_default() -> None:
    assert _destination_name(find_destination(CONFIG, "myprinter", "nobody", _facts())) == "spare"
    assert _destination_name(find_destination(CONFIG, "user-nobody", "nobody", _facts())) == "spare"


# --- find_destination: workstation, configured and unknown queues -------------------------


def test_local_queue_with_an_agent_delivers_to_it() -> None:
    facts = _facts(agents=[_agent("ws1")])
    result = find_destination(CONFIG, "local-ws1", "anyone", facts)
    assert result == Destination("local-ws1", (Target("local-ws1", "ipp://ws1:8000/ipp/print"),))


def test_local_queue_without_an_agent_is_unroutable() -> None:
    message = _unroutable(find_destination(CONFIG, "local-ws1", "anyone", _facts()))
    assert "ws1" in message


def test_configured_queue_to_a_printer() -> None:
    facts = _facts([_wants("alice", "office")])  # preferences do not matter here
    assert _destination_name(find_destination(CONFIG, "q-laser", "alice", facts)) == "laser"


def test_configured_queue_to_a_pool() -> None:
    result = find_destination(CONFIG, "q-office", "alice", _facts())
    assert isinstance(result, Destination)
    assert (result.name, [t.name for t in result.members]) == ("office", ["laser", "colour"])
    assert (result.standby, result.policy) == ((), "first-available")
    hall = find_destination(CONFIG, "q-hall", "alice", _facts())
    assert isinstance(hall, Destination) and hall.policy == "priority"


def test_configured_queue_with_a_first_use_name_keeps_its_configuration() -> None:
    config = _config(queues=[{"name": "myprinter", "destination": "spare"},
                             {"name": "user-bob", "destination": "laser"},
                             {"name": "local-ws1", "destination": "colour"}])  # fmt: skip
    facts = _facts([_wants("bob", "office")], agents=[_agent("ws1")])
    assert _destination_name(find_destination(config, "user-bob", "bob", facts)) == "laser"
    assert _destination_name(find_destination(config, "local-ws1", "bob", facts)) == "colour"


def test_unknown_queue_is_unroutable() -> None:
    assert "nope" in _unroutable(find_destination(CONFIG, "nope", "alice", _facts()))


# --- what a job needs ---------------------------------------------------------------------


def _kw(name: str, value: str) -> Attribute:
    return Attribute.of(name, Tag.KEYWORD, value)


def _media_col(size_name: str | None) -> Attribute:
    col = Collection()
    if size_name is not None:
        col.add("media-size-name", Tag.KEYWORD, size_name)
    col.add("media-source", Tag.KEYWORD, "tray-1")
    return Attribute.of("media-col", Tag.BEGIN_COLLECTION, col)


@pytest.mark.parametrize(
    ("template", "needs"),
    [
        ([], Needs()),
        ([_kw("print-color-mode", "color")], Needs(color=True)),
        ([_kw("print-color-mode", "monochrome")], Needs()),
        ([_kw("print-color-mode", "auto")], Needs()),
        ([_kw("sides", "two-sided-long-edge")], Needs(duplex=True)),
        ([_kw("sides", "two-sided-short-edge")], Needs(duplex=True)),
        ([_kw("sides", "one-sided")], Needs()),
        ([_kw("media", A3)], Needs(media=A3)),
        ([Attribute.of("media", Tag.NAME, "custom")], Needs(media="custom")),
        ([_media_col(A3)], Needs(media=A3)),
        ([_media_col(None)], Needs()),
        ([_kw("media", A4), _media_col(A3)], Needs(media=A4)),
        (
            [_kw("copies", "x"), _kw("print-color-mode", "color"), _kw("sides",
             "two-sided-long-edge"), _media_col(A3)],
            Needs(color=True, duplex=True, media=A3),
        ),
    ],
)  # fmt: skip
def test_needs_of(template: list[Attribute], needs: Needs) -> None:
    assert needs_of(template) == needs


def test_needs_describe_themselves() -> None:
    assert Needs().describe() == "this job"
    assert Needs(color=True).describe() == "colour"
    assert Needs(color=True, duplex=True, media=A3).describe() == f"colour two-sided on {A3}"
    assert Needs(media=A3).describe() == f"on {A3}"


@pytest.mark.parametrize(
    ("printer", "needs", "can"),
    [
        (Target("t", "u"), Needs(color=True, duplex=True, media=A3), True),
        (Target("t", "u", color=False), Needs(color=True), False),
        (Target("t", "u", color=False), Needs(duplex=True), True),
        (Target("t", "u", duplex=False), Needs(duplex=True), False),
        (Target("t", "u", duplex=False), Needs(color=True), True),
        (Target("t", "u", media=(A4,)), Needs(media=A3), False),
        (Target("t", "u", media=(A4,)), Needs(media=A4), True),
        (Target("t", "u", media=(A4,)), Needs(), True),
        (Target("t", "u"), Needs(media="anything"), True),  # no list: no restriction
    ],
)
def test_target_can(printer: Target, needs: Needs, can: bool) -> None:
    assert printer.can(needs) is can


# --- choose: policies ---------------------------------------------------------------------

A, B, C = Target("a", "ipp://a/"), Target("b", "ipp://b/"), Target("c", "ipp://c/")
S = Target("s", "ipp://s/")
MONO = Target("mono", "ipp://mono/", color=False)


def _pool(policy: str, *members: Target, standby: Sequence[Target] = ()) -> Destination:
    return Destination("pool", tuple(members), tuple(standby), policy)


PLAIN = Needs()  # a job that needs nothing special


def _decision(
    destination: Destination,
    needs: Needs = PLAIN,
    *,
    busy: Sequence[str] = (),
    down: Sequence[str] = (),
    recent: Mapping[str, int] | None = None,
    after: str | None = None,
) -> Deliver | Wait | Hold:
    return choose(destination, needs, busy=busy, down=down, recent=recent or {}, after=after)


def _chosen(destination: Destination, needs: Needs = PLAIN, **state: Any) -> str:
    decision = _decision(destination, needs, **state)
    assert isinstance(decision, Deliver), decision
    return decision.target.name


def test_single_printer_destination() -> None:
    one = Destination("a", (A,))
    assert _chosen(one) == "a"
    assert "busy" in _wait(_decision(one, busy=["a"]))
    assert "down" in _wait(_decision(one, down=["a"]))


def _wait(decision: Deliver | Wait | Hold) -> str:
    assert isinstance(decision, Wait), decision
    return decision.message


def _hold(decision: Deliver | Wait | Hold) -> str:
    assert isinstance(decision, Hold), decision
    return decision.message


def test_first_available_takes_the_first_free_member_that_is_up() -> None:
    pool = _pool("first-available", A, B, C)
    assert _chosen(pool) == "a"
    assert _chosen(pool, busy=["a"]) == "b"
    assert _chosen(pool, down=["a"], busy=["b"]) == "c"
    assert _chosen(pool, recent={"a": 100}) == "a"  # load does not matter here
    assert "busy" in _wait(_decision(pool, busy=["a", "b", "c"]))
    assert "down" in _wait(_decision(pool, down=["a", "b", "c"]))
    # some busy, the rest down: the job waits for a busy one
    assert "busy" in _wait(_decision(pool, busy=["a"], down=["b", "c"]))


def test_first_available_uses_standby_alike() -> None:
    pool = _pool("first-available", A, standby=[S])
    assert _chosen(pool) == "a"
    assert _chosen(pool, busy=["a"]) == "s"


def test_least_loaded_takes_the_free_member_with_fewest_recent_jobs() -> None:
    pool = _pool("least-loaded", A, B, C)
    assert _chosen(pool) == "a"  # ties: member order
    assert _chosen(pool, recent={"a": 2, "b": 1, "c": 1}) == "b"
    assert _chosen(pool, recent={"a": 2, "b": 3, "c": 1}) == "c"
    assert _chosen(pool, recent={"a": 2, "b": 3}) == "c"  # none sent lately: 0
    assert _chosen(pool, recent={"a": 5, "b": 3, "c": 1}, busy=["c"]) == "b"
    assert _chosen(pool, recent={"a": 5, "b": 3, "c": 1}, down=["c", "b"]) == "a"
    assert _chosen(pool, recent={"z": 0, "a": 1, "b": 1, "c": 1}) == "a"


def test_round_robin_rotates_after_the_member_chosen_last() -> None:
    pool = _pool("round-robin", A, B, C)
    assert _chosen(pool) == "a"
    assert _chosen(pool, after="a") == "b"
    assert _chosen(pool, after="b") == "c"
    assert _chosen(pool, after="c") == "a"
    assert _chosen(pool, after="gone") == "a"


def test_round_robin_skips_busy_and_down_members() -> None:
    pool = _pool("round-robin", A, B, C)
    assert _chosen(pool, after="a", busy=["b"]) == "c"
    assert _chosen(pool, after="a", down=["b"]) == "c"
    assert _chosen(pool, after="a", busy=["b"], down=["c"]) == "a"
    assert _chosen(pool, after="b", busy=["b"]) == "c"  # the last one is still printing
    assert "busy" in _wait(_decision(pool, after="a", busy=["a", "b", "c"]))


@pytest.mark.parametrize(
    ("pool", "needs", "down"),
    [
        (_pool("round-robin", A, B, C), Needs(), ["b"]),
        (_pool("round-robin", A, Target("b", "ipp://b/", color=False), C), Needs(color=True), []),
    ],
    ids=["last-went-down", "last-cannot-print-this-job"],
)
def test_round_robin_continues_after_the_last_member_even_when_it_is_left_out(
    pool: Destination, needs: Needs, down: list[str]
) -> None:
    """The member chosen last (b) is left out this time (it failed and is down now, or it
    cannot print this job): the rotation goes on from it, to c, not back to the start of
    the list, which would give a a double share."""
    assert _chosen(pool, needs, after="b", down=down) == "c"


def test_round_robin_spreads_a_run_of_jobs_evenly() -> None:
    pool = _pool("round-robin", A, B, C)
    chosen: list[str] = []
    after = None
    for _ in range(9):
        after = _chosen(pool, after=after)
        chosen.append(after)
    assert chosen == ["a", "b", "c"] * 3


def test_priority_takes_members_in_order() -> None:
    pool = _pool("priority", A, B, standby=[S])
    assert _chosen(pool) == "a"
    assert _chosen(pool, busy=["a"]) == "b"
    assert _chosen(pool, down=["a"]) == "b"
    assert _chosen(pool, recent={"a": 9}) == "a"


def test_priority_standby_is_not_used_when_members_are_merely_busy() -> None:
    pool = _pool("priority", A, B, standby=[S])
    assert "busy" in _wait(_decision(pool, busy=["a", "b"]))
    assert "busy" in _wait(_decision(pool, busy=["a"], down=["b"]))


def test_priority_standby_is_used_when_every_member_is_down() -> None:
    pool = _pool("priority", A, B, standby=[S, C])
    assert _chosen(pool, down=["a", "b"]) == "s"
    assert _chosen(pool, down=["a", "b", "s"]) == "c"
    assert _chosen(pool, down=["a", "b"], busy=["s"]) == "c"
    assert "busy" in _wait(_decision(pool, down=["a", "b"], busy=["s", "c"]))
    assert "down" in _wait(_decision(pool, down=["a", "b", "s", "c"]))


def test_priority_standby_is_used_when_every_capable_member_is_down() -> None:
    pool = _pool("priority", MONO, A, standby=[S])
    assert _chosen(pool, Needs(color=True), down=["a"]) == "s"
    assert _chosen(pool, Needs(), down=["a"]) == "mono"


# --- choose: capabilities -----------------------------------------------------------------


@pytest.mark.parametrize("policy", ["first-available", "least-loaded", "round-robin", "priority"])
def test_only_a_capable_member_is_chosen(policy: str) -> None:
    colour = Target("colour", "ipp://colour/")
    mono2 = Target("mono2", "ipp://mono2/", color=False)
    pool = _pool(policy, MONO, mono2, colour)
    needs = Needs(color=True)
    assert _chosen(pool, needs, recent={"colour": 50}, after="colour") == "colour"
    assert "busy" in _wait(_decision(pool, needs, busy=["colour"]))
    assert "down" in _wait(_decision(pool, needs, down=["colour"]))
    # a job that needs nothing special never waits for the colour printer
    assert _chosen(pool, Needs(), busy=["colour"]) in {"mono", "mono2"}


@pytest.mark.parametrize(
    ("members", "needs", "said"),
    [
        ((MONO,), Needs(color=True), "colour"),
        ((Target("d", "u", duplex=False),), Needs(duplex=True), "two-sided"),
        ((Target("m", "u", media=(A4,)),), Needs(media=A3), A3),
        ((Target("m", "u", media=(A4,), color=False), Target("x", "u", duplex=False)),
         Needs(color=True, duplex=True), "colour two-sided"),
    ],
)  # fmt: skip
def test_job_no_member_can_print_is_held_naming_the_pool(
    members: tuple[Target, ...], needs: Needs, said: str
) -> None:
    pool = Destination("north-wing", members)
    message = _hold(_decision(pool, needs))
    assert "north-wing" in message and said in message
    # held whatever the state of the printers: waiting would not help
    names_ = [t.name for t in members]
    assert isinstance(_decision(pool, needs, busy=names_), Hold)
    assert isinstance(_decision(pool, needs, down=names_), Hold)


def test_capable_standby_means_no_hold() -> None:
    pool = _pool("priority", MONO, standby=[A])
    assert _chosen(pool, Needs(color=True)) == "a"
    assert "down" in _wait(_decision(pool, Needs(color=True), down=["a"]))


# --- choose: properties -------------------------------------------------------------------

_NAMES = ["p0", "p1", "p2", "p3", "p4", "p5"]
_POLICIES = ["first-available", "least-loaded", "round-robin", "priority"]
_SIZES = [A4, A3]


@st.composite
def _targets(draw: st.DrawFn) -> Target:
    return Target(
        draw(st.sampled_from(_NAMES)),
        "ipp://x/",
        color=draw(st.booleans()),
        duplex=draw(st.booleans()),
        media=tuple(draw(st.lists(st.sampled_from(_SIZES), max_size=2, unique=True))),
    )


@st.composite
def _destinations(draw: st.DrawFn) -> Destination:
    printers = draw(st.lists(_targets(), min_size=1, max_size=6, unique_by=lambda t: t.name))
    split = draw(st.integers(1, len(printers)))
    return Destination("pool", tuple(printers[:split]), tuple(printers[split:]),
                       draw(st.sampled_from(_POLICIES)))  # fmt: skip


_needs = st.builds(Needs, st.booleans(), st.booleans(), st.sampled_from([None, *_SIZES]))


def _expected(
    destination: Destination, needs: Needs, busy: frozenset[str], down: frozenset[str]
) -> tuple[type, list[Target]]:
    """A model of choose: the decision's kind and the targets it may pick."""
    members = [t for t in destination.members if t.can(needs)]
    standby = [t for t in destination.standby if t.can(needs)]
    if not members and not standby:
        return Hold, []
    if destination.policy == "priority":
        up_members = [t for t in members if t.name not in down]
        candidates = up_members or [t for t in standby if t.name not in down]
    else:
        candidates = [t for t in members + standby if t.name not in down]
    free = [t for t in candidates if t.name not in busy]
    return (Deliver, free) if free else (Wait, [])


@st.composite
def _situations(
    draw: st.DrawFn,
) -> tuple[Destination, frozenset[str], frozenset[str], dict[str, int], str | None]:
    """A destination and the state of its printers: busy, down, jobs sent lately and the
    member chosen last (mostly one of its own, sometimes none or a stranger)."""
    destination = draw(_destinations())
    own = [t.name for t in (*destination.members, *destination.standby)]
    subsets = st.frozensets(st.sampled_from(own))
    recent = draw(st.dictionaries(st.sampled_from(own), st.integers(0, 5)))
    after = draw(st.sampled_from(own) | st.none() | st.sampled_from(_NAMES))
    return destination, draw(subsets), draw(subsets), recent, after


@settings(max_examples=1000, deadline=None)
@given(_situations(), _needs)
def test_choose_never_picks_a_busy_down_or_incapable_printer(
    situation: tuple[Destination, frozenset[str], frozenset[str], dict[str, int], str | None],
    needs: Needs,
) -> None:
    destination, busy, down, recent, after = situation
    decision = choose(destination, needs, busy=busy, down=down, recent=recent, after=after)
    kind, allowed = _expected(destination, needs, busy, down)
    assert isinstance(decision, kind), (decision, kind)
    if isinstance(decision, Hold):
        assert not any(t.can(needs) for t in (*destination.members, *destination.standby))
        return
    if isinstance(decision, Wait):
        return
    chosen = decision.target
    assert chosen in allowed
    assert chosen.can(needs) and chosen.name not in busy and chosen.name not in down
    if destination.policy == "least-loaded":
        assert recent.get(chosen.name, 0) == min(recent.get(t.name, 0) for t in allowed)
    ring = [t.name for t in (*destination.members, *destination.standby)]
    if destination.policy == "round-robin" and after in ring:
        # the next free one after the last chosen, in member order, whether or not the
        # last chosen could be chosen now
        ring = ring[ring.index(after) + 1 :] + ring[: ring.index(after) + 1]
        assert chosen.name == next(n for n in ring if n in {t.name for t in allowed})
    elif destination.policy != "least-loaded":
        assert chosen == allowed[0]
    if destination.policy == "priority" and chosen in destination.standby:
        assert all(t.name in down for t in destination.members if t.can(needs))
