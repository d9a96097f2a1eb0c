"""The queues made on first use, and how their names are formed.

- ``user-<name>``: one per user; every job sent to ``myprinter`` lands here and follows the
  user's preferred destination.
- ``local-<host>``: one per workstation; delivers to the desktop agent on that host.

Names are queue names (``config.NAME_RE``: letters, digits, ``_ . -``) so they are safe
in URIs, LPD queue fields and file names. A user or host name outside that alphabet (an
e-mail address, a Windows ``DOMAIN\\user``) is spelt with the other characters replaced
and a short hash appended, so two different names never share a queue.
"""

from __future__ import annotations

import hashlib
import re

from printhost.config import NAME_RE

USER_PREFIX = "user-"
LOCAL_PREFIX = "local-"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_UNSAFE_CHAR = re.compile(r"[^A-Za-z0-9_.-]")
#: How a spelt name ends; a safe name ending so is spelt too, or it could be mistaken for
#: the spelling of another name ("j smith" -> "j_smith-3483bf22").
_SPELT_SUFFIX = re.compile(r"-[0-9a-f]{8}$")


def user_queue(user: str) -> str:
    return USER_PREFIX + _spelt(user)


def local_queue(host: str) -> str:
    return LOCAL_PREFIX + _spelt(host.lower())


def _spelt(name: str) -> str:
    if _SAFE.match(name) and not _SPELT_SUFFIX.search(name):
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    cleaned = _UNSAFE_CHAR.sub("_", name)[:80].strip("_.-") or "x"
    return f"{cleaned}-{digest}"


def is_user_queue(queue: str) -> bool:
    return queue.startswith(USER_PREFIX) and len(queue) > len(USER_PREFIX)


def is_local_queue(queue: str) -> bool:
    return queue.startswith(LOCAL_PREFIX) and len(queue) > len(LOCAL_PREFIX)


def is_made_on_first_use(queue: str) -> bool:
    return (is_user_queue(queue) or is_local_queue(queue)) and NAME_RE.match(queue) is not None
