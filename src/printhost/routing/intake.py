"""What happens to a new job before it is stored: the owner of a job from a foreign system
is mapped, the owner's default job options are applied, and the user's own queue is made
on first use. Every transport gets this by calling ``JobService.submit``.
"""

from __future__ import annotations

import dataclasses

from printhost.config import Config
from printhost.jobs.service import JobRefused, JobSpec, Placement
from printhost.routing import names
from printhost.routing.defaults import apply_defaults
from printhost.routing.first_use import FirstUse
from printhost.routing.mapping import MappingRefused, check_host, map_user
from printhost.routing.router import follows_owner
from printhost.server.job_attributes import decode_template, encode_template
from printhost.store.base import JobDefaults, Store


class IntakeRules:
    def __init__(self, config: Config, store: Store, first_use: FirstUse) -> None:
        self._config = config
        self._store = store
        self._first_use = first_use

    async def place(self, spec: JobSpec) -> Placement:
        spec, hold_message = self._mapped(spec)
        spec, note = await self._with_defaults(spec)
        if follows_owner(self._config, spec.queue):
            if not hold_message:  # an unmapped foreign name gets no queue of its own
                await self._first_use.ensure(names.user_queue(spec.owner))
        elif names.is_made_on_first_use(spec.queue):
            await self._first_use.ensure(spec.queue)
        return Placement(spec, hold_message=hold_message, note=note)

    def _mapped(self, spec: JobSpec) -> tuple[JobSpec, str]:
        mapping = self._config.mapping(spec.queue)
        if mapping is None or spec.owner_authenticated:
            # A proven identity owns its job whatever a mapping says (invariant 4): the
            # table vouches for the names foreign systems claim, nothing more.
            return spec, ""
        try:
            check_host(mapping, spec.originating_host)
            if spec.owner in mapping.users.values():
                return spec, ""  # already mapped (Resubmit-Job of a mapped job)
            mapped = map_user(mapping, spec.owner, spec.originating_host)
        except MappingRefused as exc:
            raise JobRefused(str(exc)) from None
        return dataclasses.replace(spec, owner=mapped.user), mapped.hold_message

    async def _with_defaults(self, spec: JobSpec) -> tuple[JobSpec, str]:
        prefs = await self._store.get_preferences(spec.owner)
        if prefs is None or prefs.defaults == JobDefaults():
            return spec, ""
        applied = apply_defaults(decode_template(spec.template), prefs.defaults)
        return dataclasses.replace(spec, template=encode_template(applied.attributes)), applied.note
