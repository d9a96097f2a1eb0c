"""The small pure parts of routing: queue names made on first use (routing/names.py),
username mapping for foreign systems (routing/mapping.py) and a user's default job
options (routing/defaults.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printhost.config import NAME_RE, MappingConfig
from printhost.ipp.constants import Tag
from printhost.ipp.model import Attribute
from printhost.routing import names
from printhost.routing.defaults import Applied, apply_defaults, check_defaults
from printhost.routing.mapping import Mapped, MappingRefused, map_user
from printhost.store.base import JobDefaults

# --- names --------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["alice", "j.smith", "a_b-c", "A1", "x", "7up", "a" * 90])
def test_safe_user_names_are_kept(user: str) -> None:
    assert names.user_queue(user) == f"user-{user}"
    assert names.is_user_queue(names.user_queue(user))
    assert not names.is_local_queue(names.user_queue(user))


@pytest.mark.parametrize(
    "user",
    ["j smith", "DOMAIN\\jsmith", "a@b.example", "", "-lead", ".dot", "_under", "müller",
     "x/../y", "tab\there", "\ud800", "a" * 102, "Ab" * 200],
)  # fmt: skip
def test_unsafe_user_names_get_a_hash(user: str) -> None:
    queue = names.user_queue(user)
    assert queue.startswith("user-") and queue != f"user-{user}"
    assert NAME_RE.match(queue)
    assert names.is_user_queue(queue) and names.is_made_on_first_use(queue)
    assert names.user_queue(user) == queue  # stable: the same user, the same queue
    spelt, digest = queue[len("user-") :].rsplit("-", 1)
    assert len(digest) == 8 and int(digest, 16) >= 0
    assert spelt and spelt[0].isalnum()


def test_unsafe_names_keep_their_readable_part() -> None:
    assert names.user_queue("DOMAIN\\jsmith").startswith("user-DOMAIN_jsmith-")
    assert names.user_queue("a@b.example").startswith("user-a_b.example-")
    assert names.user_queue("").startswith("user-x-")


def test_local_queue_names_are_lower_case_host_names() -> None:
    assert names.local_queue("WS1.Example.COM") == "local-ws1.example.com"
    assert names.local_queue("ws1") == names.local_queue("WS1")
    hashed = names.local_queue("my host")
    assert hashed.startswith("local-my_host-") and NAME_RE.match(hashed)
    assert names.is_local_queue(hashed) and not names.is_user_queue(hashed)


@pytest.mark.parametrize(
    ("queue", "user", "local", "first_use"),
    [
        ("user-alice", True, False, True),
        ("local-ws1", False, True, True),
        ("user-", False, False, False),
        ("local-", False, False, False),
        ("myprinter", False, False, False),
        ("user-a b", True, False, False),  # not a name printhost makes
        ("users-alice", False, False, False),
    ],
)
def test_queue_kinds(queue: str, user: bool, local: bool, first_use: bool) -> None:
    assert names.is_user_queue(queue) is user
    assert names.is_local_queue(queue) is local
    assert names.is_made_on_first_use(queue) is first_use


# Safe names of every length a user or host may have: the queue made for them must be one
# that listings show (QueueRegistry.all_names keeps names.is_made_on_first_use ones), as for
# anyone else's.
LENGTHS = [1, 50, 95, 96, 97, 100, 101, 102, 127, 200]


@pytest.mark.parametrize("length", LENGTHS)
def test_every_users_queue_is_a_queue_made_on_first_use(length: int) -> None:
    queue = names.user_queue("u" * length)
    assert names.is_made_on_first_use(queue), f"{len(queue)} characters"


@pytest.mark.parametrize("length", LENGTHS)
def test_every_workstations_queue_is_a_queue_made_on_first_use(length: int) -> None:
    queue = names.local_queue("h" * length)
    assert names.is_made_on_first_use(queue), f"{len(queue)} characters"


def test_a_safe_name_cannot_take_over_the_queue_of_a_hashed_one() -> None:
    """Someone whose name is literally the spelling printhost made for another user's
    unsafe name ("j smith" -> "j_smith-<hash>") must not share that user's queue."""
    for make in (names.user_queue, names.local_queue):
        unsafe = "j smith"
        queue = make(unsafe)
        lookalike = queue.split("-", 1)[1]  # "j_smith-<hash>", a perfectly safe name
        assert make(lookalike) != queue


_ANY_NAME = st.text(max_size=120) | st.from_regex(
    r"[A-Za-z0-9][A-Za-z0-9_.@ \\-]{0,110}", fullmatch=True
)


@settings(max_examples=1000, deadline=None)
@given(_ANY_NAME, _ANY_NAME)
def test_user_queue_names_never_collide_and_are_always_valid(a: str, b: str) -> None:
    qa, qb = names.user_queue(a), names.user_queue(b)
    assert NAME_RE.match(qa) and NAME_RE.match(qb)
    assert names.is_user_queue(qa)
    assert (qa == qb) == (a == b)


@settings(max_examples=1000, deadline=None)
@given(_ANY_NAME, _ANY_NAME)
def test_local_queue_names_never_collide_and_are_always_valid(a: str, b: str) -> None:
    qa, qb = names.local_queue(a), names.local_queue(b)
    assert NAME_RE.match(qa) and NAME_RE.match(qb)
    assert names.is_local_queue(qa)
    assert (qa == qb) == (a.lower() == b.lower())


# --- mapping ------------------------------------------------------------------------------


def _mapping(**overrides: object) -> MappingConfig:
    fields: dict[str, object] = {
        "queue": "from-vm",
        "users": {"JSMITH7": "jsmith", "Bob": "bob1", "BOB": "bob2"},
    }
    fields.update(overrides)
    return MappingConfig(**fields)  # type: ignore[arg-type]


def test_known_name_is_mapped() -> None:
    assert map_user(_mapping(), "JSMITH7", "vm1") == Mapped("jsmith")


@pytest.mark.parametrize("spelling", ["jsmith7", "JSmith7", "JSMITH7"])
def test_names_are_matched_ignoring_case_by_default(spelling: str) -> None:
    assert map_user(_mapping(), spelling, "vm1") == Mapped("jsmith")


def test_an_exact_match_wins_over_a_case_folded_one() -> None:
    assert map_user(_mapping(), "Bob", "vm1") == Mapped("bob1")
    assert map_user(_mapping(), "BOB", "vm1") == Mapped("bob2")


def test_case_sensitive_matching_when_configured() -> None:
    strict = _mapping(ignore_case=False, unknown="reject")
    assert map_user(strict, "JSMITH7", "vm1") == Mapped("jsmith")
    with pytest.raises(MappingRefused, match="'jsmith7'"):
        map_user(strict, "jsmith7", "vm1")


def test_hosts_list_limits_where_names_are_vouched_for() -> None:
    limited = _mapping(hosts=("vm1.example", "VM2"))
    assert map_user(limited, "JSMITH7", "vm1.example") == Mapped("jsmith")
    assert map_user(limited, "JSMITH7", "VM1.EXAMPLE") == Mapped("jsmith")
    assert map_user(limited, "JSMITH7", "vm2") == Mapped("jsmith")
    for host in ("evil.example", "", "vm1"):
        with pytest.raises(MappingRefused) as refused:
            map_user(limited, "JSMITH7", host)
        assert f"{host!r}" in str(refused.value) and "from-vm" in str(refused.value)


def test_hosts_list_is_checked_before_unknown_names_are_handled() -> None:
    limited = _mapping(hosts=("vm1",), unknown="default", default_user="guest")
    with pytest.raises(MappingRefused, match="may not print"):
        map_user(limited, "NOBODY", "elsewhere")


def test_no_hosts_list_means_any_host() -> None:
    assert map_user(_mapping(), "JSMITH7", "anywhere.example") == Mapped("jsmith")
    assert map_user(_mapping(), "JSMITH7", "") == Mapped("jsmith")


def test_unknown_name_held_by_default() -> None:
    mapped = map_user(_mapping(), "NOBODY", "vm1")
    assert mapped.user == "NOBODY"
    for part in ("'NOBODY'", "vm1", "from-vm", "operator"):
        assert part in mapped.hold_message
    assert "unknown host" in map_user(_mapping(), "NOBODY", "").hold_message


def test_unknown_name_rejected_when_configured() -> None:
    with pytest.raises(MappingRefused) as refused:
        map_user(_mapping(unknown="reject"), "NOBODY", "vm1")
    assert "'NOBODY'" in str(refused.value) and "vm1" in str(refused.value)
    with pytest.raises(MappingRefused, match="unknown host"):
        map_user(_mapping(unknown="reject"), "NOBODY", "")


def test_unknown_name_given_to_the_default_user_when_configured() -> None:
    mapping = _mapping(unknown="default", default_user="guest")
    assert map_user(mapping, "NOBODY", "vm1") == Mapped("guest")
    assert map_user(mapping, "JSMITH7", "vm1") == Mapped("jsmith")  # known names still map


def test_an_already_mapped_name_is_not_a_foreign_name() -> None:
    """map_user maps foreign names only: our own "jsmith" is not a key of the table (intake
    passes a job whose owner is already mapped without calling it)."""
    assert map_user(_mapping(), "jsmith", "vm1").hold_message != ""
    with pytest.raises(MappingRefused):
        map_user(_mapping(unknown="reject"), "jsmith", "vm1")


# --- defaults -----------------------------------------------------------------------------


def _kw(name: str, value: str) -> Attribute:
    return Attribute.of(name, Tag.KEYWORD, value)


def _copies(n: int) -> Attribute:
    return Attribute.of("copies", Tag.INTEGER, n)


def _values(applied: Applied) -> dict[str, object]:
    return {a.name: a.value for a in applied.attributes}


FULL = JobDefaults(sides="two-sided-long-edge", print_color_mode="monochrome",
                   orientation_requested=4, max_copies=3)  # fmt: skip


def test_defaults_fill_in_what_the_job_does_not_say() -> None:
    applied = apply_defaults([_kw("media", "iso_a4_210x297mm")], FULL)
    assert _values(applied) == {
        "media": "iso_a4_210x297mm",
        "sides": "two-sided-long-edge",
        "print-color-mode": "monochrome",
        "orientation-requested": 4,
    }
    tags = {a.name: a.tag for a in applied.attributes}
    assert tags["sides"] == Tag.KEYWORD and tags["print-color-mode"] == Tag.KEYWORD
    assert tags["orientation-requested"] == Tag.ENUM
    assert applied.note == ""


def test_defaults_never_override_what_the_job_says() -> None:
    template = [_kw("sides", "one-sided"), _kw("print-color-mode", "color"),
                Attribute.of("orientation-requested", Tag.ENUM, 3)]  # fmt: skip
    applied = apply_defaults(template, FULL)
    assert _values(applied) == {"sides": "one-sided", "print-color-mode": "color",
                                "orientation-requested": 3}  # fmt: skip
    assert applied.note == ""


def test_no_defaults_change_nothing() -> None:
    template = [_kw("sides", "one-sided"), _copies(40)]
    applied = apply_defaults(template, JobDefaults())
    assert applied == Applied(template, "")
    assert apply_defaults([], JobDefaults()) == Applied([], "")


def test_only_set_defaults_are_added() -> None:
    applied = apply_defaults([], JobDefaults(print_color_mode="monochrome"))
    assert _values(applied) == {"print-color-mode": "monochrome"}


def test_copies_above_the_limit_are_cut_down_with_a_note() -> None:
    applied = apply_defaults([_copies(5), _kw("sides", "one-sided")], JobDefaults(max_copies=2))
    assert _values(applied) == {"copies": 2, "sides": "one-sided"}
    assert [a.name for a in applied.attributes].count("copies") == 1
    assert next(a for a in applied.attributes if a.name == "copies").tag == Tag.INTEGER
    assert "limited to 2" in applied.note and "asked for 5" in applied.note


@pytest.mark.parametrize(
    ("template", "limit"),
    [([_copies(2)], 2), ([_copies(1)], 2), ([_copies(500)], 0), ([], 2)],
    ids=["at-limit", "below", "no-limit", "no-copies"],
)
def test_copies_within_the_limit_are_kept(template: list[Attribute], limit: int) -> None:
    applied = apply_defaults(template, JobDefaults(max_copies=limit))
    assert applied == Applied(template, "")


def test_check_defaults_accepts_good_values() -> None:
    assert check_defaults(JobDefaults()) == []
    assert check_defaults(FULL) == []
    for sides in ("one-sided", "two-sided-long-edge", "two-sided-short-edge"):
        assert check_defaults(JobDefaults(sides=sides)) == []
    for mode in ("auto", "color", "monochrome"):
        assert check_defaults(JobDefaults(print_color_mode=mode)) == []
    for orientation in (3, 4, 5, 6):
        assert check_defaults(JobDefaults(orientation_requested=orientation)) == []
    assert check_defaults(JobDefaults(max_copies=9999)) == []


@pytest.mark.parametrize(
    ("defaults", "field"),
    [
        (JobDefaults(sides="duplex"), "sides"),
        (JobDefaults(print_color_mode="colour"), "print_color_mode"),
        (JobDefaults(orientation_requested=7), "orientation_requested"),
        (JobDefaults(orientation_requested=2), "orientation_requested"),
        (JobDefaults(max_copies=-1), "max_copies"),
        (JobDefaults(max_copies=10000), "max_copies"),
    ],
)
def test_check_defaults_names_the_bad_field(defaults: JobDefaults, field: str) -> None:
    (problem,) = check_defaults(defaults)
    assert problem.startswith(field)


def test_check_defaults_reports_every_problem() -> None:
    bad = JobDefaults(sides="x", print_color_mode="y", orientation_requested=1, max_copies=-5)
    assert [p.split()[0] for p in check_defaults(bad)] == [
        "sides", "print_color_mode", "orientation_requested", "max_copies",
    ]  # fmt: skip


_SET_BY_DEFAULTS = ("sides", "print-color-mode", "orientation-requested")


@settings(max_examples=300, deadline=None)
@given(
    st.builds(
        JobDefaults,
        st.sampled_from(["", "one-sided", "two-sided-long-edge"]),
        st.sampled_from(["", "color", "monochrome"]),
        st.sampled_from([0, 3, 4]),
        st.integers(0, 20),
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "sides": st.just(_kw("sides", "two-sided-short-edge")),
            "print-color-mode": st.just(_kw("print-color-mode", "auto")),
            "orientation-requested": st.just(Attribute.of("orientation-requested", Tag.ENUM, 6)),
            "copies": st.integers(1, 40).map(_copies),
            "media": st.just(_kw("media", "iso_a4_210x297mm")),
        },
    ),
)
def test_apply_defaults_properties(defaults: JobDefaults, given_: dict[str, Attribute]) -> None:
    template = list(given_.values())
    applied = apply_defaults(template, defaults)
    result = {a.name: a for a in applied.attributes}
    assert len(result) == len(applied.attributes), "no attribute twice"
    for name, attr in given_.items():
        if name != "copies":
            assert result[name] == attr, "what the job says is kept"
    for name in _SET_BY_DEFAULTS:
        assert (name in result) == (name in given_ or bool(_default_for(defaults, name)))
    if "copies" in given_:
        asked = int(given_["copies"].value)  # type: ignore[arg-type]
        limited = defaults.max_copies and asked > defaults.max_copies
        assert result["copies"].value == (defaults.max_copies if limited else asked)
        assert bool(applied.note) == bool(limited)
    else:
        assert "copies" not in result and applied.note == ""


def _default_for(defaults: JobDefaults, name: str) -> object:
    return {
        "sides": defaults.sides,
        "print-color-mode": defaults.print_color_mode,
        "orientation-requested": defaults.orientation_requested,
    }[name]
