"""The CloudFormation lifecycle shared by every resource type.

Each resource module declares TYPE (its schema) and create/update/delete for its SES calls.
This module decides what a request means: validation before any SES call, replacement,
tag sync, and which physical ids may be deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Mapping

from . import desired_state, naming, tags
from .client import ArnBuilder
from .errors import error_code, reason
from .schema import InvalidProperty

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """What a resource module needs to know about the CloudFormation request."""

    stack_id: str
    logical_id: str
    request_id: str
    arns: ArnBuilder
    # Told the name once a Create has claimed it: from then on the name is this resource's
    # even if the request ends before SES answers (the adapter's timeout answer uses it).
    on_claim: Callable[[str], None] | None = None


class ProviderError(Exception):
    """An answer of FAILED with this reason. `physical_id` is set when a Create made a
    resource before failing, so that CloudFormation's rollback Delete removes it."""

    def __init__(self, reason: str, physical_id: str | None = None, code: str = ""):
        super().__init__(reason)
        self.physical_id = physical_id
        self.code = code  # the SES error code behind it, if any


class PartialCreate(Exception):
    """SES created the resource, then a later call of the same Create failed."""

    def __init__(self, physical_id: str, cause: BaseException):
        super().__init__(str(cause))
        self.physical_id = physical_id
        self.cause = cause


def parse(resource: ModuleType, raw: Mapping[str, Any] | None) -> dict:
    """Coerce and validate properties; raises InvalidProperty naming the property."""
    props = resource.TYPE.coerce(raw)
    tags.validate(props.get("Tags"))
    return props


def _describe(resource: ModuleType, name: str) -> str:
    return f"{resource.TYPE.type_name.split('::')[-1]} {name}"


def _arn(resource: ModuleType, request: Request, name: str) -> str:
    return request.arns.arn(resource.TYPE.arn_kind, name)


def _exists(resource: ModuleType, name: str, client) -> bool:
    try:
        resource.read(name, client)
    except Exception as error:
        if error_code(error) == "NotFoundException":
            return False
        raise
    return True


def _ses_failure(
    resource: ModuleType, name: str, request: Request, error: BaseException, physical_id: str | None = None
) -> ProviderError:
    return ProviderError(reason(error, _describe(resource, name), request.arns.region), physical_id, error_code(error))


def _name_for_create(resource: ModuleType, props: dict, request: Request) -> dict:
    name_property = resource.TYPE.name_property
    if props.get(name_property):
        return props
    generated = naming.generate(
        request.stack_id, request.logical_id, request_id=request.request_id, **resource.NAME_GENERATION
    )
    return {**props, name_property: generated}


StackTags = Callable[[], Mapping[str, str]]


def _desired_tags(props: dict, stack_tags: StackTags | None) -> dict[str, str]:
    """The declared tags, over the stack's tags where they are propagated."""
    declared = tags.to_dict(props.get("Tags"))
    if stack_tags is None or not props.get("PropagateStackTags"):
        return declared
    try:
        inherited = stack_tags()
    except Exception as error:
        raise ProviderError(f"could not read the stack's tags ({error_code(error) or type(error).__name__})") from error
    return desired_state.merge(declared, inherited)


def _save(
    store, resource: ModuleType, physical_id: str, props: dict, desired: dict, managed, request: Request, created_by: str
) -> None:
    """Record the desired tags, once SES has accepted the change.

    A record that cannot be written fails the request: a FAILED Create hands back the real
    id, so CloudFormation's rollback removes the resource; a FAILED Update rolls back to the
    previous properties. CloudFormation and SES never disagree; only the repair waits."""
    if store is None:
        return
    record = desired_state.Record(
        arn=_arn(resource, request, physical_id),
        stack_id=request.stack_id,
        logical_id=request.logical_id,
        resource_type=resource.TYPE.type_name,
        name=physical_id,
        declared=tags.to_dict(props.get("Tags")),
        desired=desired,
        managed_keys=frozenset(managed) | set(desired),
        propagate_stack_tags=bool(props.get("PropagateStackTags")),
        drift_repair=bool(props.get("TagDriftRepair")),
        created_by=created_by,
    )
    try:
        store.put(record)
    except Exception as error:
        raise ProviderError(
            f"{_describe(resource, physical_id)}: SES accepted the change but its desired tags could not be"
            f" recorded ({type(error).__name__}); failing so that CloudFormation rolls back",
            physical_id,
        ) from error


def create(
    resource: ModuleType, raw: Mapping, client, request: Request, stack_tags: StackTags | None = None, store=None
) -> tuple[str, dict]:
    props = _name_for_create(resource, parse(resource, raw), request)
    return _create_recorded(resource, props, _desired_tags(props, stack_tags), client, request, store)


def _create_recorded(resource: ModuleType, props: dict, desired: dict, client, request: Request, store) -> tuple[str, dict]:
    if store is not None:
        _claim(resource, props, client, request, store)
    try:
        physical_id, attributes = _create(resource, {**props, "Tags": tags.to_list(desired)}, client, request)
    except ProviderError as failed:
        if store is not None and failed.code == "AlreadyExistsException":
            # The claim proves the name was free when this resource first tried it, so what
            # exists now is its own: an attempt that died before answering (Lambda's retry),
            # or a Create whose answer was lost and which botocore then sent again.
            physical_id, attributes = _adopt(resource, props, desired, client, request)
        else:
            if store is not None:
                _settle_failed_create(resource, props, client, request, store, failed)
            raise
    _save(store, resource, physical_id, props, desired, (), request, request.request_id)
    return physical_id, attributes


def _claim(resource: ModuleType, props: dict, client, request: Request, store) -> None:
    """Make sure the name is this resource's to create: claimed already by an earlier attempt
    of it, or free in SES and claimed now. A resource that exists without such a claim existed
    before the stack, or belongs to another resource of some stack: it is refused before any
    change."""
    name = props[resource.TYPE.name_property]
    arn = _arn(resource, request, name)
    try:
        existing = store.get(arn)
    except Exception as error:
        raise ProviderError(f"{_describe(resource, name)}: could not read its desired tags ({type(error).__name__})") from error
    if existing is not None:
        same_resource = (existing.stack_id, existing.logical_id) == (request.stack_id, request.logical_id)
        if existing.made_by(request.request_id) or (existing.pending_request_id and same_resource):
            # An earlier delivery of this request claimed the name, or made the resource and
            # died before answering; or an earlier request of this resource claimed it and
            # its outcome is unknown. What exists is ours.
            if request.on_claim:
                request.on_claim(name)
            return
        raise ProviderError(
            f"{_describe(resource, name)} in {request.arns.region}: already managed by {existing.logical_id}"
            f" of stack {existing.stack_id.split('/')[1] if existing.stack_id.count('/') >= 2 else existing.stack_id};"
            " it is left untouched",
            code="AlreadyExistsException",
        )
    try:
        found = _exists(resource, name, client)
    except Exception as error:
        raise _ses_failure(resource, name, request, error) from error
    if found:
        raise ProviderError(
            f"{_describe(resource, name)} in {request.arns.region}: already exists; it was not created by this"
            " stack and is left untouched",
            code="AlreadyExistsException",
        )
    claim = desired_state.Record(
        arn=arn,
        stack_id=request.stack_id,
        logical_id=request.logical_id,
        resource_type=resource.TYPE.type_name,
        name=name,
        declared={},
        desired={},
        pending_request_id=request.request_id,
        created_by=request.request_id,
    )
    try:
        claimed = store.claim(claim)
    except Exception as error:
        raise ProviderError(f"{_describe(resource, name)}: could not record the create ({type(error).__name__})") from error
    if not claimed:
        raise ProviderError(f"{_describe(resource, name)}: another request is creating it", code="AlreadyExistsException")
    if request.on_claim:
        request.on_claim(name)


# SES rejected the call outright: nothing was created.
_REJECTED = frozenset(
    {"AlreadyExistsException", "BadRequestException", "LimitExceededException", "NotFoundException", "AccessDeniedException"}
)


def _settle_failed_create(resource: ModuleType, props: dict, client, request: Request, store, failed: ProviderError) -> None:
    """After a failed Create: hand back the real name when SES made the resource after all
    (the rollback Delete then removes it), else release the claim so the name stays free."""
    name = props[resource.TYPE.name_property]
    if failed.physical_id is None and failed.code not in _REJECTED:
        # A timeout or a 5xx after retries: the call may have gone through.
        try:
            if _exists(resource, name, client):
                failed.physical_id = name  # we claimed it absent, so it is ours
        except Exception:  # noqa: BLE001 - keep the claim: a later request of this resource adopts
            logger.warning("could not tell whether %s was created", name)
            return
    if failed.physical_id is None:
        try:
            store.delete(_arn(resource, request, name))
        except Exception:  # noqa: BLE001 - a stale claim of this resource is adopted or replaced later
            logger.warning("could not release the claim on %s", name)


def _adopt(resource: ModuleType, props: dict, desired: dict, client, request: Request) -> tuple[str, dict]:
    """Bring a resource that an earlier attempt of this request created to the properties:
    the Put calls that may not have happened yet, and the tags."""
    name = props[resource.TYPE.name_property]
    made_by_create = {key: props[key] for key in resource.SET_BY_CREATE if key in props}
    try:
        attributes = resource.update(name, props, made_by_create, client, request)
        tags.converge(client, _arn(resource, request, name), desired=desired, managed=desired)
    except Exception as error:
        raise _ses_failure(resource, name, request, error, physical_id=name) from error
    return name, attributes


def _create(resource: ModuleType, props: dict, client, request: Request) -> tuple[str, dict]:
    name = props[resource.TYPE.name_property]
    try:
        return resource.create(props, client, request)
    except PartialCreate as partial:
        raise _ses_failure(resource, name, request, partial.cause, partial.physical_id) from partial.cause
    except (InvalidProperty, ProviderError):
        raise
    except Exception as error:
        raise _ses_failure(resource, name, request, error) from error


def update(
    resource: ModuleType,
    physical_id: str,
    raw: Mapping,
    raw_old: Mapping,
    client,
    request: Request,
    stack_tags: StackTags | None = None,
    store=None,
) -> tuple[str, dict]:
    props = parse(resource, raw)
    desired = _desired_tags(props, stack_tags)
    try:
        # No previous properties (a hand-written event; CloudFormation always sends them) are
        # unknown, not the schema's defaults: compare against nothing, as for unreadable ones.
        old = resource.TYPE.coerce(raw_old) if raw_old is not None else {}
    except InvalidProperty:
        # The previous properties were accepted by an earlier version of this provider;
        # compare against nothing rather than refuse the update.
        old = {}
    name_property = resource.TYPE.name_property
    # An omitted name keeps the name the resource already has.
    if not props.get(name_property) and not old.get(name_property):
        current = {**props, name_property: physical_id}
        previous = {**old, name_property: physical_id}
    else:
        current, previous = props, {**old, name_property: old.get(name_property) or physical_id}

    replacing = resource.TYPE.replacing_changes(previous, current)
    if name_property in replacing and props.get(name_property) == physical_id:
        # The resource already has the declared name: CloudFormation rolling back a rename
        # that failed sends the old name back to the resource that kept it.
        replacing.remove(name_property)
    if replacing:
        target = props.get(name_property)  # None: a new name is generated
        if target == physical_id:
            raise ProviderError(
                f"{', '.join(replacing)}: SES cannot make this change to {_describe(resource, physical_id)}"
                f" in place, and a replacement would need the same {name_property}; change or remove"
                f" {name_property} to replace it"
            )
        # A new physical id makes CloudFormation delete the old resource after the update,
        # or the new one if the stack rolls back: never delete-then-create here.
        try:
            return _create_recorded(resource, _name_for_create(resource, props, request), desired, client, request, store)
        except ProviderError as failed:
            if failed.physical_id:
                # A half-made replacement is ours alone: remove it, the old one stays.
                discard(resource, failed.physical_id, client, request, store)
            raise ProviderError(failed.args[0]) from failed

    arn = _arn(resource, request, physical_id)
    # The keys this stack may remove: those the previous properties declared, and those the
    # desired state held before (stack tags that were propagated).
    managed = set(tags.to_dict(previous.get("Tags")))
    try:
        record = store.get(arn) if store is not None else None
    except Exception as error:
        raise ProviderError(f"{_describe(resource, physical_id)}: could not read its desired tags ({type(error).__name__})") from error
    if record is not None:
        managed |= record.managed_keys
    try:
        attributes = resource.update(physical_id, current, previous, client, request)
        tags.converge(client, arn, desired=desired, managed=managed)
    except (InvalidProperty, ProviderError):
        raise
    except Exception as error:
        raise _ses_failure(resource, physical_id, request, error) from error
    _save(store, resource, physical_id, props, desired, managed, request, record.created_by if record else "")
    return physical_id, attributes


def intents(resource: ModuleType, request_type: str, raw: Mapping | None, request: Request) -> tuple[str, ...]:
    """The name a request would create, validated before anything else happens: the declared
    or generated name of a Create, and of the replacement an Update may make. The journal
    keeps it, so that a later delivery of the request can find what it made."""
    if request_type == "Delete":
        return ()
    props = parse(resource, raw)
    return (_name_for_create(resource, props, request)[resource.TYPE.name_property],)


def discard_own(resource: ModuleType, name: str, client, request: Request, store) -> None:
    """Remove `name` if this very request made it (its record says so); else leave it."""
    if store is None:
        return
    try:
        record = store.get(_arn(resource, request, name))
    except Exception as error:  # noqa: BLE001 - nothing is removed without proof
        logger.error("could not read the record of %s: %s", name, error)
        return
    if record is not None and record.made_by(request.request_id):
        logger.warning("removing %s: made by this request, which CloudFormation was told nothing of", name)
        discard(resource, name, client, request, store)


def discard_if_abandoned(resource: ModuleType, name: str, client, request: Request, store) -> None:
    """A Create answered with `name` by the timer finished after all: if CloudFormation's
    rollback Delete already removed the claim, it ran before SES made the resource, and
    nothing would ever remove it."""
    if store is None:
        return
    try:
        record = store.get(_arn(resource, request, name))
    except Exception as error:  # noqa: BLE001 - leave it: the record may still be there
        logger.error("could not read the record of %s: %s", name, error)
        return
    if record is None:
        logger.warning("removing %s: made after CloudFormation's rollback had deleted it", name)
        discard(resource, name, client, request, store)


def discard(resource: ModuleType, physical_id: str, client, request: Request, store) -> None:
    """Remove a resource this provider made but CloudFormation will never know of."""
    try:
        resource.delete(physical_id, client)
    except Exception as error:  # noqa: BLE001 - reported, the answer is FAILED anyway
        if error_code(error) != "NotFoundException":
            logger.error("could not remove the half-made %s: %s", physical_id, error)
            return  # its claim stays: a later request of this resource adopts it
    if store is not None:
        try:
            store.delete(_arn(resource, request, physical_id))
        except Exception as error:  # noqa: BLE001
            logger.error("could not remove the record of the half-made %s: %s", physical_id, error)


def owns(resource: ModuleType, physical_id: str, raw: Mapping | None, request: Request) -> bool:
    """Whether this provider issued `physical_id` for this resource.

    A Delete carries the properties of the resource being deleted: the declared name, or,
    when none was declared, a name that naming.generate made for this stack and logical id.
    The failed-Create marker and ids that CloudFormation or crhelper generated match neither.
    """
    if not resource.TYPE.is_valid_name(physical_id):
        return False
    declared = (raw or {}).get(resource.TYPE.name_property)
    if declared:
        return declared == physical_id
    return naming.is_generated_for(physical_id, request.stack_id, request.logical_id)


def delete(resource: ModuleType, physical_id: str, raw: Mapping | None, client, request: Request, store=None) -> bool:
    """Delete the resource if this provider issued its physical id; False if nothing to do."""
    if not owns(resource, physical_id, raw, request):
        logger.info("physical id %r was not issued by this provider: nothing to delete", physical_id)
        return False
    if store is not None:
        # The record goes first: should SES then refuse, the resource lives on without
        # repair until CloudFormation retries the Delete; never a record without its owner.
        try:
            store.delete(_arn(resource, request, physical_id))
        except Exception as error:
            raise ProviderError(f"{_describe(resource, physical_id)}: could not remove its desired tags ({type(error).__name__})") from error
    try:
        resource.delete(physical_id, client)
    except Exception as error:
        if error_code(error) == "NotFoundException":
            return True  # already gone counts as success
        raise _ses_failure(resource, physical_id, request, error) from error
    return True
