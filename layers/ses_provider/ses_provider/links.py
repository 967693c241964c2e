"""Links: a property whose value names another resource of this provider's types.

The provider acts with one role for every stack of the account, so a declaration that names
another team's resource would otherwise be carried out: an event destination on their
configuration set (their recipients' events to the intruder's topic), a configuration set
sending through their dedicated IP pool, an identity whose default configuration set is
theirs, a charged deliverability test sent from their verified domain.

Each type declares its links (its LINKS); lifecycle.parse checks them on every Create and
Update (never on a Delete), after the schema and before any SES call or table write. Whose a
linked resource is comes from its desired-state record (desired_state.Store), one GetItem
per resource that the value may stand for, no SES read:

- a record of the same stack: allowed;
- a record of another stack: allowed only if its ShareWith lists this stack's name, or `*`
  (a record written before ShareWith existed has none: shared with nobody);
- no record (made in the console, by another tool, or not at all): allowed only when the
  provider stack sets AllowUnmanagedLinks=true.

Without a table (a local run, desired_state.store_from_environment) there is no ownership to
check and nothing is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from . import parameters
from .stacks import stack_name
from .request import Request
from .schema import InvalidProperty

ALLOW_UNMANAGED_LINKS_ENVIRONMENT = "ALLOW_UNMANAGED_LINKS"  # template.yaml: AllowUnmanagedLinks
PARAMETER = "AllowUnmanagedLinks"
ANY_STACK = "*"


def unmanaged_links_allowed() -> bool:
    return parameters.flag(ALLOW_UNMANAGED_LINKS_ENVIRONMENT)


def _the_name(value: str, props: Mapping, arns: Any, kind: str) -> tuple[str, ...]:
    return (arns.arn(kind, value),)


@dataclass(frozen=True)
class Link:
    path: str  # the property, dotted: DeliveryOptions.SendingPoolName
    kind: str  # the ARN kind of the linked resource (its record's key)
    # The record keys of the resources the value may stand for; the default: the one named.
    keys: Callable[[str, Mapping, Any, str], tuple[str, ...]] = _the_name
    # How a refusal names the linked resource; the default: the value itself.
    shown: Callable[[str, Mapping], str] = lambda value, props: value


def sender_identities(address: str, props: Mapping, arns: Any, kind: str) -> tuple[str, ...]:
    """The identities SES may send `address` as: the address itself, its domain and every
    parent domain (a verified domain covers its subdomains and their addresses), never a
    bare top-level domain."""
    labels = address.rpartition("@")[2].split(".")
    names = (address, *(".".join(labels[i:]) for i in range(len(labels) - 1)))
    return tuple(arns.arn(kind, name) for name in names)


def _value(props: Mapping, path: str) -> Any:
    value: Any = props
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def shared_with(record, name: str) -> bool:
    return ANY_STACK in record.share_with or name in record.share_with


def check(links: tuple[Link, ...], props: Mapping, request: Request | None) -> None:
    """Refuse, naming the property, a link this stack may not make (the module's docstring)."""
    if request is None or request.store is None:
        return
    for link in links:
        value = _value(props, link.path)
        if not value:
            continue
        records = [_record(request, link, key) for key in link.keys(value, props, request.arns, link.kind)]
        _judge(link, link.shown(value, props), [record for record in records if record is not None], request)


def _record(request: Request, link: Link, key: str):
    # Request.read: one GetItem per key and request, however often parse runs for it.
    try:
        return request.read(("link", key), lambda: request.store.get(key))
    except Exception as error:  # noqa: BLE001 - whose it is is unknown: refused
        raise InvalidProperty(link.path, f"could not read the record of {key} ({type(error).__name__})") from None


def _judge(link: Link, value: str, records: list, request: Request) -> None:
    mine = stack_name(request.stack_id)
    for record in records:
        if record.stack_id != request.stack_id and not shared_with(record, mine):
            raise InvalidProperty(
                link.path,
                f"{value} is {record.owner}, which does not share it"
                f" with stack {mine}; that stack must list {mine} (or *) in its ShareWith",
            )
    if not records and not unmanaged_links_allowed():
        raise InvalidProperty(
            link.path,
            f"{value} is managed by no stack of this provider; linking to it needs the provider parameter"
            f" {PARAMETER}=true",
        )
