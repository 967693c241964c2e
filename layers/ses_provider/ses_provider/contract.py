"""The contract between the protocol and a resource type: one class per type.

A type takes parsed properties and clients and returns values; it never sees the event, the
journal or the answer. The protocol (ses_provider.protocol) calls the methods below and no
others, and finds nothing by `hasattr`: what a type may do besides the required four is a
declared capability (`CHOOSES_ID`, `WAITS`, `RELEASES`, `DRIFTS`), and every optional method has a
default here that does nothing.

An outcome is one of three values:
- `Done(physical_id, data)`: complete; SUCCESS with these attributes;
- `Pending(physical_id, data)`: accepted by SES, not complete yet; the protocol asks again later
  (`is_complete`), through its queue, until the wait is over;
- `Failed(reason, physical_id)`: FAILED with this reason; the id names what exists, if anything.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, ClassVar, Mapping, NamedTuple, Union

from .links import Link
from .request import Request
from .schema import ResourceType

# The values are NamedTuples, which cost a fifth of a frozen dataclass to define on a cold
# start. Equality is the type's and the fields' together: as plain tuples, Done("x") would
# equal Pending("x").

NO_DATA: Mapping[str, Any] = MappingProxyType({})  # a default no caller can change


def _same(self, other) -> bool:
    return type(self) is type(other) and tuple.__eq__(self, other)


def _differs(self, other) -> bool:
    return not _same(self, other)


class Done(NamedTuple):
    physical_id: str
    data: Mapping[str, Any] = NO_DATA
    __eq__, __ne__ = _same, _differs


class Pending(NamedTuple):
    physical_id: str
    data: Mapping[str, Any] = NO_DATA
    __eq__, __ne__ = _same, _differs


class Failed(NamedTuple):
    reason: str
    physical_id: str = ""
    __eq__, __ne__ = _same, _differs


Outcome = Union[Done, Pending, Failed]


class Wait(NamedTuple):
    """How long a request may wait for completion: `seconds` in all (the type's own limit cut to
    what CloudFormation waits, less a margin), and whether that time is over."""

    seconds: int
    over: bool = False


class ResourceHandler:
    """One resource type. Subclasses declare `TYPE` (the schema: properties, identity, ARN) and
    implement the four SES operations; the rest is optional."""

    TYPE: ClassVar[ResourceType]
    # naming.generate's options for a name CloudFormation leaves to the provider.
    NAME_GENERATION: ClassVar[Mapping[str, Any]] = {"max_length": 64}
    # The properties the Create call itself sets (crash safety re-applies the others).
    SET_BY_CREATE: ClassVar[tuple[str, ...]] = ()
    # Properties that name another resource (ses_provider.links checks who owns it).
    LINKS: ClassVar[tuple[Link, ...]] = ()

    # Capabilities.
    CHOOSES_ID: ClassVar[bool] = False  # SES chooses the id: `create_recorded` replaces the claim of a name
    WAITS: ClassVar[bool] = False  # `is_complete` may answer Pending
    RELEASES: ClassVar[bool] = False  # makes something besides SES, which `release` removes
    # Its live state can drift from the declared properties: `read_declared` reads it, TYPE.comparison
    # says how it compares (ses_provider.drift), and its record keeps the declared properties.
    DRIFTS: ClassVar[bool] = False

    # --- required -------------------------------------------------------------------------

    def create(self, props: dict, client: Any, request: Request) -> tuple[str, dict]:
        """Make the resource; returns its physical id and attributes."""
        raise NotImplementedError

    def update(self, name: str, props: dict, old: dict, client: Any, request: Request) -> dict:
        """Only the calls for what changed from `old`; returns the attributes."""
        raise NotImplementedError

    def delete(self, name: str, client: Any, request: Request | None = None) -> None:
        raise NotImplementedError

    def read(self, name: str, client: Any) -> None:
        """Raises SES's NotFoundException when there is no such resource."""
        raise NotImplementedError

    # --- optional -------------------------------------------------------------------------

    def validate(self, props: dict) -> None:
        """Rules across properties that the schema cannot state; raises InvalidProperty."""

    def check(self, props: dict, request: Request) -> None:
        """Rules that need the request or a read outside SES, still before any SES call."""

    def withhold(self, props: dict) -> dict:
        """The properties as a queue message may carry them (a secret replaced by what a later
        `is_complete` needs of it). The protocol removes the schema's secrets anyway."""
        return props

    def release(self, name: str, request: Request) -> None:
        """RELEASES: remove what was made besides SES for a resource that is not ours after all."""

    def owns(self, physical_id: str, raw: Mapping | None, request: Request) -> bool | None:
        """CHOOSES_ID: whether this provider issued `physical_id` where no table keeps records;
        None leaves it to the rule for names (lifecycle.owns)."""
        return None

    def create_recorded(self, props: dict, desired: dict, client: Any, request: Request, safety: Any) -> tuple[str, dict]:
        """CHOOSES_ID: the Create with its own crash safety (`safety`: the request's ledger)."""
        raise NotImplementedError

    def read_declared(self, name: str, client: Any) -> dict | None:
        """DRIFTS: the live resource in the form of its declared properties (only what SES
        reports; ses_provider.drift compares it); None when SES has no such resource."""
        raise NotImplementedError

    def unrepairable(self, declared: Mapping[str, Any], live: Mapping[str, Any] | None, groups: frozenset[str]) -> str | None:
        """DRIFTS: why the reconciler must not restore the drifted top-level `groups` of
        `declared` over `live` (None: gone, to be made again), or None when the type's own
        update (or create) may. Decided before any write: the drift is then reported only."""
        return None

    def after_wait(self, name: str, props: dict, old: dict, client: Any, request: Request) -> None:
        """WAITS: what `is_complete` applies once its wait holds, for a caller that has no wait:
        a drift repair (ses_provider.reconcile.restore), after `update`. Only the calls for what
        changed from `old`."""

    def wait_seconds(self, props: dict) -> int:
        """WAITS: the longest wait the properties ask for, in seconds (0: none)."""
        return 0

    def is_complete(
        self, physical_id: str, props: dict, old: dict, data: Mapping | None, client: Any, request: Request, wait: Wait
    ) -> Outcome:
        """Whether a Create or Update that SES accepted is complete. `data`: the attributes the
        Create or Update returned, or None on a later call (read them). Runs again after a
        crash or a duplicate delivery: what it does must be safe to repeat. An SES error is an
        outcome too, never raised: Failed when it cannot pass (or the wait is over), Pending
        when asking again may help."""
        return Done(physical_id, dict(data or {}))
