"""Rules: policy as data (issue 5). Pure: ``evaluate(rules, facts) -> Judgement``.

``model`` holds the facts a rule sees and the rule dataclasses, ``windows`` the weekly
UTC time windows, ``evaluate`` the judging, ``parse`` the ``[[rules]]`` TOML format.
"""

from printhost.rules.evaluate import Firing, Judgement, Verdict, evaluate, history_seconds
from printhost.rules.model import Action, ActionKind, JobFacts, Match, Recent, Rule
from printhost.rules.parse import parse_rules

__all__ = [
    "Action",
    "ActionKind",
    "Firing",
    "JobFacts",
    "Judgement",
    "Match",
    "Recent",
    "Rule",
    "Verdict",
    "evaluate",
    "history_seconds",
    "parse_rules",
]
