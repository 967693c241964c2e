"""The CloudFormation lifecycle shared by every resource type.

Each resource type is a ResourceHandler (ses_provider.contract): TYPE (its schema) and
create/update/delete for its SES calls, and the optional methods it declares.
This module decides what a request means: validation before any SES call, replacement,
tag sync, and which physical ids may be deleted.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping, NamedTuple

from . import crash_safety, desired_state, links, naming, tags
from .contract import Done, Outcome, ResourceHandler, Wait
from .crash_safety import arn as _arn
from .crash_safety import ledger
from .errors import PartialCreate, ProviderError, error_code, ses_failure
from .errors import describe as _describe
from .request import Request
from .schema import InvalidProperty

__all__ = ["PartialCreate", "Plan", "ProviderError", "Request", "apply", "create", "delete", "owns", "parse", "plan", "prepare", "update"]

logger = logging.getLogger(__name__)


def parse(resource: ResourceHandler, raw: Mapping[str, Any] | None, request: Request | None = None) -> dict:
    """Coerce and validate properties; raises InvalidProperty naming the property."""
    props = resource.TYPE.coerce(raw)
    tags.validate(props.get("Tags"))
    resource.validate(props)  # rules across properties that the schema cannot state
    if request is not None:
        # Rules that need the request (the function's region and account) or a read outside
        # SES (a BYODKIM key from Secrets Manager): still before any SES call.
        resource.check(props, request)
    # Names of other resources: this stack's, shared with it, or allowed unmanaged (links).
    links.check(resource.LINKS, props, request)
    return props


def _name_for_create(resource: ResourceHandler, props: dict, request: Request) -> dict:
    identity = resource.TYPE.identity
    if identity.declared(props):
        return props
    generated = naming.generate(
        request.stack_id, request.logical_id, request_id=request.request_id, **resource.NAME_GENERATION
    )
    return identity.named(props, generated)


StackTags = Callable[[], Mapping[str, str]]


class Plan(NamedTuple):
    """A request's properties, parsed once (coerced, validated, checked before any SES call) and
    passed down: `props` as declared, `named` with the name a Create or a replacement would
    make (declared or generated). A Delete has none: it acts on the record."""

    props: dict
    named: dict
    # The name a request would create: the declared or generated name of a Create, and of the
    # replacement an Update may make. The journal keeps it, so that a later delivery of the
    # request can find what it made.
    intents: tuple[str, ...] = ()


NO_PLAN = Plan({}, {})


def plan(resource: ResourceHandler, request_type: str, raw: Mapping | None, request: Request) -> Plan:
    """Parse the request's properties once; raises InvalidProperty naming the property."""
    if request_type == "Delete":
        return NO_PLAN
    props = parse(resource, raw, request)
    named = _name_for_create(resource, props, request)
    return Plan(props, named, (resource.TYPE.identity.declared(named),))


def prepare(
    resource: ResourceHandler, request_type: str, raw: Mapping | None, request: Request, client, stack: Callable[[], Any]
) -> tuple[Plan, list[tuple[Any, Callable[[], Any]]]]:
    """Everything a request needs before its first write: its plan (raises InvalidProperty,
    before any call) and the reads it makes whatever the journal holds (read_ahead)."""
    planned = plan(resource, request_type, raw, request)
    return planned, read_ahead(resource, request_type, planned, request, client, stack)


def apply(
    resource: ResourceHandler,
    event: Mapping,
    planned: Plan,
    client,
    request: Request,
    stack_tags: StackTags | None,
    store,
    wait: Callable[[], tuple[dict, Wait]],
) -> Outcome:
    """The request's Create, Update or Delete; then, for a type that WAITS, its word on whether
    the result is complete (`wait`: the previous properties and the Wait, asked only then).
    Raises InvalidProperty and ProviderError as the operations do."""
    request_type, physical_id = event["RequestType"], event.get("PhysicalResourceId", "")
    if request_type == "Create":
        physical_id, data = create(resource, planned, client, request, stack_tags, store)
    elif request_type == "Update":
        physical_id, data = update(
            resource, physical_id, planned, event.get("OldResourceProperties"), client, request, stack_tags, store
        )
    else:
        delete(resource, physical_id, event.get("ResourceProperties"), client, request, store)
        return Done(physical_id, {})
    if not resource.WAITS:
        return Done(physical_id, data)
    old, until = wait()
    return resource.is_complete(physical_id, planned.props, old, data, client, request, until)


def _planned(resource: ResourceHandler, given: Plan | Mapping | None, request: Request) -> Plan:
    """A Plan as the protocol passes it, or one made now from raw properties (a direct call)."""
    return given if isinstance(given, Plan) else plan(resource, "Create", given, request)


def _desired_tags(props: dict, stack_tags: StackTags | None) -> dict[str, str]:
    """The declared tags, over the stack's tags where they are propagated."""
    declared = tags.to_dict(props.get("Tags"))
    if stack_tags is None or not props.get("PropagateStackTags"):
        return declared
    try:
        inherited = stack_tags()
    except Exception as error:
        raise ProviderError(f"could not read the stack's tags ({error_code(error) or type(error).__name__})") from error
    return tags.merge(declared, inherited)


def _check_adoption(props: dict) -> None:
    """A Create (or a replacement) may take over an existing resource only when the provider
    stack allows it: refused before any SES call otherwise."""
    if props.get("AdoptExisting") and not crash_safety.adoption_allowed():
        raise InvalidProperty(
            "AdoptExisting",
            "taking over existing resources is switched off for this provider; deploy the provider stack"
            " with AllowAdoption=true to allow it",
        )


def create(
    resource: ResourceHandler, given: Plan | Mapping, client, request: Request, stack_tags: StackTags | None = None, store=None
) -> tuple[str, dict]:
    props = _planned(resource, given, request).named
    _check_adoption(props)
    return _create_recorded(resource, props, _desired_tags(props, stack_tags), client, request, store)


def _create_recorded(resource: ResourceHandler, props: dict, desired: dict, client, request: Request, store) -> tuple[str, dict]:
    name = resource.TYPE.identity.declared(props)
    safety = ledger(resource, client, request, store)
    if resource.CHOOSES_ID:
        # SES chooses the id: no name to claim; the type's own crash safety.
        try:
            return resource.create_recorded(props, desired, client, request, safety)
        except (InvalidProperty, ProviderError):
            raise
        except Exception as error:
            raise ses_failure(resource, name, request, error) from error
    claimed = safety.claim(name, adopt=bool(props.get("AdoptExisting")))
    if claimed == crash_safety.TAKE_OVER:
        # It existed before the stack: taken over, never created.
        attributes = safety.take_over(name, props, desired)
        safety.save(name, props, desired, (), created_by=request.request_id, adopted=True)
        return name, attributes
    if claimed == crash_safety.RESUME:
        physical_id, attributes = name, safety.resume(name, props, desired)
    else:
        try:
            physical_id, attributes = _create(resource, {**props, "Tags": tags.to_list(desired)}, client, request)
        except ProviderError as failed:
            if not safety.resumes(failed):
                safety.settle_failed_create(name, failed)
                raise
            physical_id, attributes = name, safety.resume(name, props, desired)
    safety.save(physical_id, props, desired, (), created_by=request.request_id)
    return physical_id, attributes


def _create(resource: ResourceHandler, props: dict, client, request: Request) -> tuple[str, dict]:
    name = resource.TYPE.identity.declared(props)
    try:
        return resource.create(props, client, request)
    except PartialCreate as partial:
        raise ses_failure(resource, name, request, partial.cause, partial.physical_id) from partial.cause
    except (InvalidProperty, ProviderError):
        raise
    except Exception as error:
        raise ses_failure(resource, name, request, error) from error


def _compared(resource: ResourceHandler, physical_id: str, props: dict, raw_old: Mapping | None) -> tuple[dict, dict]:
    """The new and the previous properties of an Update, each with the name it leaves out."""
    try:
        # No previous properties (a hand-written event; CloudFormation always sends them) are
        # unknown, not the schema's defaults: compare against nothing, as for unreadable ones.
        old = resource.TYPE.coerce(raw_old) if raw_old is not None else {}
    except InvalidProperty:
        # The previous properties were accepted by an earlier version of this provider;
        # compare against nothing rather than refuse the update.
        old = {}
    identity = resource.TYPE.identity
    # An omitted name keeps the name the resource already has.
    if not identity.declared(props) and not identity.declared(old):
        return identity.filled(props, physical_id), identity.filled(old, physical_id)
    return props, identity.filled(old, physical_id)


def unchanged(
    resource: ResourceHandler,
    physical_id: str,
    given: Plan | Mapping,
    raw_old: Mapping | None,
    client,
    request: Request,
    stack_tags: StackTags | None,
    store,
) -> tuple[dict, dict] | None:
    """The properties and attributes of an Update that changes nothing, found with reads only (no SES write,
    no table write: the protocol does not journal it); None when the Update needs the full path.

    CloudFormation sends such an Update when only what the provider cannot see changed (the
    ServiceToken, a value that coerces the same). It changes nothing when its properties
    equal the previous ones and the record agrees with them: the same declared tags, the same
    desired tags (the stack's tags may have moved: then it is a real change), and the live
    tags need no repair. Unjournaled, it may be delivered again at any time, even after later
    requests; a delivery whose record declares other tags than its properties is such a late
    one (the record is saved by every successful request), and it changes nothing either:
    acting on it could only undo what CloudFormation did since."""
    if store is None:
        return None
    props = _planned(resource, given, request).props
    current, previous = _compared(resource, physical_id, props, raw_old)
    if current != previous or resource.TYPE.identity.declared(current) not in (None, physical_id):
        return None
    safety = ledger(resource, client, request, store)
    record = safety.record(physical_id)
    if record is None or record.pending_request_id or not record.owned_by(request.stack_id, request.logical_id):
        return None  # the full path refuses another owner's resource
    kept = safety.kept_properties(physical_id, props)
    try:
        # Every request that succeeds saves its properties: a record that keeps others is of a later one.
        late = dict(record.declared) != tags.to_dict(props.get("Tags")) or record.properties not in (None, kept)
        if not late:
            if record.properties != kept:
                return None  # a record of an earlier version keeps no properties: save them
            if _desired_tags(props, stack_tags) != dict(record.desired):
                return None
            if record.share_with != tuple(props.get("ShareWith") or ()):
                return None  # a record of an earlier version, or one that missed a change: save it
            if resource.TYPE.taggable:
                live = tags.to_dict(client.list_tags_for_resource(ResourceArn=_arn(resource, request, physical_id)).get("Tags"))
                if tags.diff(live, record.desired, record.managed_keys) != ({}, []):
                    return None
        # The same properties on both sides: the type's update makes only its reads.
        return props, resource.update(physical_id, current, previous, client, request)
    except (InvalidProperty, ProviderError):
        raise
    except Exception as error:
        raise ses_failure(resource, physical_id, request, error) from error


def update(
    resource: ResourceHandler,
    physical_id: str,
    given: Plan | Mapping,
    raw_old: Mapping,
    client,
    request: Request,
    stack_tags: StackTags | None = None,
    store=None,
) -> tuple[str, dict]:
    planned = _planned(resource, given, request)
    props = planned.props
    safety = ledger(resource, client, request, store)
    record = safety.record(physical_id)
    _check_owner(resource, physical_id, record, request, safety)
    desired = _desired_tags(props, stack_tags)
    current, previous = _compared(resource, physical_id, props, raw_old)
    if _replacing(resource, physical_id, props, previous, current):
        return _replace(resource, physical_id, planned, desired, client, request, store)
    # The keys this stack may remove: those the previous properties declared, and those the
    # desired state held before (stack tags that were propagated).
    managed = set(tags.to_dict(previous.get("Tags")))
    if record is not None:
        managed |= record.managed_keys
    try:
        attributes = resource.update(physical_id, current, previous, client, request)
        if resource.TYPE.taggable:
            tags.converge(client, _arn(resource, request, physical_id), desired=desired, managed=managed)
    except (InvalidProperty, ProviderError):
        raise
    except Exception as error:
        raise ses_failure(resource, physical_id, request, error) from error
    # One past the version read: a drift repair that compared the older one makes no write.
    version = (record.version if record else 0) + 1
    safety.save(physical_id, props, desired, managed, created_by=record.created_by if record else "", version=version)
    return physical_id, attributes


def _replacing(resource: ResourceHandler, physical_id: str, props: dict, previous: dict, current: dict) -> list[str]:
    """The create-only properties an Update changes, which SES cannot change in place; raises
    when the replacement would need the name the resource already has."""
    identity = resource.TYPE.identity
    replacing = resource.TYPE.replacing_changes(previous, current)
    if identity.declared(props) == physical_id:
        # The resource already has the declared name: CloudFormation rolling back a rename
        # that failed sends the old name back to the resource that kept it.
        replacing = [name for name in replacing if name not in identity.properties]
    if replacing and identity.declared(props) == physical_id:
        name_property = resource.TYPE.name_property
        raise ProviderError(
            f"{', '.join(replacing)}: SES cannot make this change to {_describe(resource, physical_id)}"
            f" in place, and a replacement would need the same {name_property}; change or remove"
            f" {name_property} to replace it"
        )
    return replacing


def _replace(
    resource: ResourceHandler, physical_id: str, planned: Plan, desired: dict, client, request: Request, store
) -> tuple[str, dict]:
    """A new resource under the declared or a generated name. A new physical id makes
    CloudFormation delete the old resource after the update, or the new one if the stack rolls
    back: never delete-then-create here."""
    _check_adoption(planned.props)
    try:
        return _create_recorded(resource, planned.named, desired, client, request, store)
    except ProviderError as failed:
        if failed.physical_id:
            # A half-made replacement is ours alone: remove it, the old one stays.
            ledger(resource, client, request, store).discard(failed.physical_id)
        raise ProviderError(failed.args[0]) from failed


STACK = "stack"  # the key of the stack's status and tags among a request's reads (Request.read)


def read_ahead(
    resource: ResourceHandler, request_type: str, given: Plan | None, request: Request, client, stack: Callable[[], Any]
) -> list[tuple[Any, Callable[[], Any]]]:
    """The reads a request makes whatever the journal holds, in order, keyed as the code that
    uses them asks for them (Request.read). First the stack (stacks.Stack: whether
    CloudFormation is changing it, and its tags), which every request needs before its first
    write; then, for a Create that claims a name, whether SES has it (the claim's proof). They
    change nothing, so the protocol makes them while it waits for the stack, and while the
    journal's first write is in flight. Input that is refused is refused before any SES call,
    as without them: no SES read is made for it, nor when the stack's tags overflow the
    declared ones."""
    reads: list[tuple[Any, Callable[[], Any]]] = [(STACK, stack)]
    if request_type != "Create" or given is None or request.store is None or resource.CHOOSES_ID:
        return reads
    props = given.named
    try:
        _check_adoption(props)
    except Exception:  # noqa: BLE001 - no SES read: the request's own path refuses it
        return reads
    key, exists = crash_safety.exists_read(resource, resource.TYPE.identity.declared(props), client)
    found: list[Any] = []  # the stack, once read

    def read_stack() -> Any:
        found.append(stack())
        return found[0]

    def exists_if_it_may_act() -> bool:
        if not found[0].in_operation:
            raise ProviderError("not read: the request is refused")  # SES is not asked for a refused request
        # InvalidProperty past 50 tags, as the Create refuses them
        _desired_tags(props, (lambda: found[0].tags) if props.get("PropagateStackTags") else None)
        return exists()

    return [(STACK, read_stack), (key, exists_if_it_may_act)]


def _check_owner(resource: ResourceHandler, physical_id: str, record, request: Request, safety) -> None:
    """An Update acts only on a resource whose record names this stack and logical id: the
    record, not the event's own word, decides (any stack author can send an event naming any
    physical id). Without a table there is no record to ask (a local run): nothing is refused."""
    if not safety.records:
        return
    if record is None:
        raise ProviderError(
            f"{_describe(resource, physical_id)}: no stack manages it through this provider; nothing was"
            " changed (AdoptExisting takes over a resource made elsewhere)"
        )
    if not record.owned_by(request.stack_id, request.logical_id):
        raise ProviderError(f"{_describe(resource, physical_id)}: managed by {record.owner}; nothing was changed")


def owns(resource: ResourceHandler, physical_id: str, raw: Mapping | None, request: Request) -> bool:
    """Whether this provider issued `physical_id` for this resource, as far as the event tells:
    the test where no table keeps records (a local run); with one, the record decides (delete).

    A Delete carries the properties of the resource being deleted: the declared name, or,
    when none was declared, a name that naming.generate made for this stack and logical id.
    The failed-Create marker and ids that CloudFormation or another provider made up match neither.
    """
    chosen = resource.owns(physical_id, raw, request)  # an id that SES chose (CHOOSES_ID)
    if chosen is not None:
        return chosen
    if not resource.TYPE.is_valid_name(physical_id):
        return False
    identity = resource.TYPE.identity
    declared = identity.declared(raw or {})
    if declared:
        return declared == physical_id
    generated = identity.generated_part(physical_id, raw or {})
    return generated is not None and naming.is_generated_for(generated, request.stack_id, request.logical_id)


def delete(resource: ResourceHandler, physical_id: str, raw: Mapping | None, client, request: Request, store=None) -> bool:
    """Delete the resource if its record names this stack and logical id; False if nothing to do.

    No record, or another owner's: nothing is changed and the Delete succeeds. A forged Delete
    must not remove what another stack (or the console) made, and a genuine one of a resource
    that another stack has since taken over must not keep its stack from being deleted.
    SES goes first, then the record: a crash between the two leaves the record, so Lambda's
    retry still finds the resource its own (SES then answers NotFound)."""
    safety = ledger(resource, client, request, store)
    if safety.records:
        if not resource.TYPE.is_valid_name(physical_id):
            return False  # the failed-Create marker, or an id no SES resource has: no read needed
        record = safety.record(physical_id)
        if record is None or not record.owned_by(request.stack_id, request.logical_id):
            logger.warning(
                "%s: %s; nothing deleted", physical_id, "no record" if record is None else f"managed by {record.owner}"
            )
            return False
    elif not owns(resource, physical_id, raw, request):
        logger.info("physical id %r was not issued by this provider: nothing to delete", physical_id)
        return False
    try:
        resource.delete(physical_id, client, request)
    except ProviderError:
        raise
    except Exception as error:
        if error_code(error) != "NotFoundException":  # already gone counts as success
            raise ses_failure(resource, physical_id, request, error) from error
    safety.forget(physical_id)
    return True
