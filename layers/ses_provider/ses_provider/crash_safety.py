"""Crash safety: what makes a Create safe to repeat, and a resource this provider made but
CloudFormation was never told of safe to remove, whatever order crashes, Lambda's retries
and CloudFormation's rollback come in.

Three records, all in the desired-state table:
- the request journal (protocol/journal.py): which requests were answered, and with what;
- the claim: the resource's record, written before its `Create*` and naming the request
  that creates it (`created_by`, kept for good), so that the name is provably ours;
- resumption: a Create that finds its own claim resumes what an earlier attempt of it made
  and died before answering (its `Put*` calls and tags, not the `Create*`).

`Ledger` is the claim, resumption and clean-up of one request over that table; `Unrecorded`
stands in where no table is configured (unit tests, a local run): nothing is claimed, and
nothing is removed without the proof a record gives.

Taking over a resource that existed before the stack (`AdoptExisting`) goes through the same
claim, marked `adopted`: such a resource is never named in a timeout answer, and every
clean-up releases it instead of deleting it. Only CloudFormation's Delete deletes it.
"""

from __future__ import annotations

import logging
from typing import Callable
from . import desired_state, parameters, state_table, tags
from .contract import ResourceHandler
from .errors import ProviderError, describe, error_code, ses_failure
from .request import Request
from .schema import InvalidProperty

logger = logging.getLogger(__name__)

# SES rejected the call outright: nothing was created.
_REJECTED = frozenset(
    {"AlreadyExistsException", "BadRequestException", "LimitExceededException", "NotFoundException", "AccessDeniedException"}
)


# Set from the provider stack's AllowAdoption parameter (template.yaml): any stack in the
# account can use the service tokens, so taking over existing resources is the provider
# owner's decision, not only the template author's.
ALLOW_ADOPTION_ENVIRONMENT = "ALLOW_ADOPTION"


def adoption_allowed() -> bool:
    return parameters.flag(ALLOW_ADOPTION_ENVIRONMENT)


def arn(resource: ResourceHandler, request: Request, name: str) -> str:
    """The key of the resource's record: its ARN (TYPE.record_key for a type SES cannot tag)."""
    return resource.TYPE.record_key(request.arns, name)


def exists(resource: ResourceHandler, name: str, client) -> bool:
    try:
        resource.read(name, client)
    except Exception as error:
        if error_code(error) == "NotFoundException":
            return False
        raise
    return True


# What a claim found the name to be (Ledger.claim).
CREATE = "create"  # free: this resource creates it
RESUME = "resume"  # made by an earlier attempt of this very resource, which died before answering
TAKE_OVER = "take over"  # existed before the stack, taken over (AdoptExisting)


def exists_read(resource: ResourceHandler, name: str, client) -> tuple[tuple[str, str], Callable[[], bool]]:
    """The read that tells whether SES has the name, keyed as Request.read takes it (the
    protocol starts it early for a Create: lifecycle.read_ahead)."""
    return ("exists", name), lambda: exists(resource, name, client)


def ledger(resource: ResourceHandler, client, request: Request, store) -> "Ledger":
    return Ledger(resource, client, request, store) if store is not None else Unrecorded(resource, client, request, store)


class Ledger:
    """The claims and records of one request for one resource type."""

    records = True  # a table holds claims and records: what exists can be proved ours

    def __init__(self, resource: ResourceHandler, client, request: Request, store):
        self.resource, self.client, self.request, self.store = resource, client, request, store

    def _arn(self, name: str) -> str:
        return arn(self.resource, self.request, name)

    def _what(self, name: str) -> str:
        return describe(self.resource, name)

    # --- before a Create -----------------------------------------------------------------

    def claim(self, name: str, adopt: bool = False) -> str:
        """Make sure the name is this resource's to create: claimed already by an earlier
        attempt of it, or free in SES and claimed now. A resource that exists without such a
        claim existed before the stack, or belongs to another resource of some stack: it is
        refused before any change, unless `adopt` takes over the former. Another stack's
        resource is never taken over. Returns CREATE, RESUME or TAKE_OVER.

        SES is asked first (a read the protocol starts early, Request.read): the claim then
        records whether the name was free, which is what later proves a resource ours. When it
        is free, the claim's conditional write also returns any record in the way, so the
        usual Create reads no record at all."""
        request = self.request
        try:
            found = request.read(*exists_read(self.resource, name, self.client))
        except Exception as error:
            raise ses_failure(self.resource, name, request, error) from error
        if found:
            existing = self.record(name)
            if existing is not None:
                return self._own(name, existing, found)
            if not adopt:
                raise ProviderError(
                    f"{self._what(name)} in {request.arns.region}: already exists; it was not created by this"
                    " stack and is left untouched",
                    code="AlreadyExistsException",
                )
        claimed, existing = self._write_claim(name, found)
        if not claimed:
            if existing is not None:
                return self._own(name, existing, found)
            raise ProviderError(f"{self._what(name)}: another request is creating it", code="AlreadyExistsException")
        if found:
            return TAKE_OVER
        # From here the name is this resource's: a timeout answer may name it, so that the
        # rollback Delete removes whatever SES still makes. Never so for a taken-over one.
        self._claimed(name)
        return CREATE

    def _write_claim(self, name: str, found: bool) -> tuple[bool, desired_state.Record | None]:
        """The claim's conditional write: (True, None) once made, else (False, the record in the
        way, if any). `found`: SES has the name already (a take-over)."""
        request = self.request
        claim = desired_state.Record(
            arn=self._arn(name),
            stack_id=request.stack_id,
            logical_id=request.logical_id,
            resource_type=self.resource.TYPE.type_name,
            name=name,
            declared={},
            desired={},
            pending_request_id=request.request_id,
            created_by=request.request_id,
            adopted=found,
        )
        try:
            return self.store.claim(claim)
        except Exception as error:
            raise ProviderError(f"{self._what(name)}: could not record the create ({type(error).__name__})") from error

    def _own(self, name: str, existing: desired_state.Record, found: bool) -> str:
        """A record holds the name: this resource's (an earlier delivery of this request claimed
        it, or made the resource and died before answering; or an earlier request of this
        resource claimed it and its outcome is unknown), or refused."""
        request = self.request
        same_resource = existing.owned_by(request.stack_id, request.logical_id)
        if existing.made_by(request.request_id) or (existing.pending_request_id and same_resource):
            if existing.adopted:
                return TAKE_OVER
            self._claimed(name)
            # The claim proves the name was free when this resource first tried it: what SES
            # has now is what the earlier attempt made (no Create refused with AlreadyExists).
            return RESUME if found else CREATE
        raise ProviderError(
            f"{self._what(name)} in {request.arns.region}: already managed by {existing.owner}; it is left untouched",
            code="AlreadyExistsException",
        )

    def _claimed(self, name: str) -> None:
        if self.request.on_claim:
            self.request.on_claim(name)

    # --- after a Create --------------------------------------------------------------------

    def resumes(self, failed: ProviderError) -> bool:
        """Whether a Create refused with AlreadyExists meets its own resource: the claim
        proves the name was free when this resource first tried it, so what exists now is
        its own (an attempt that died before answering, or a Create whose answer was lost
        and which botocore then sent again)."""
        return failed.code == "AlreadyExistsException"

    def resume(self, name: str, props: dict, desired: dict) -> dict:
        """Bring the resource an earlier attempt made to the properties: the Put calls that
        may not have happened yet, and the tags. Returns its attributes."""
        made_by_create = {key: props[key] for key in self.resource.SET_BY_CREATE if key in props}
        try:
            attributes = self.resource.update(name, props, made_by_create, self.client, self.request)
            if self.resource.TYPE.taggable:
                tags.converge(self.client, self._arn(name), desired=desired, managed=desired)
        except Exception as error:
            raise ses_failure(self.resource, name, self.request, error, physical_id=name) from error
        return attributes

    def take_over(self, name: str, props: dict, desired: dict) -> dict:
        """Bring a resource that existed before the stack to the declared properties: every
        declared option group is Put (what SES holds is unknown), undeclared ones are left as
        they are; the declared tags are applied, and tags someone else set are kept. Should
        that fail, the claim is released: the resource stays as it is, and is not ours."""
        try:
            attributes = self.resource.update(name, props, {}, self.client, self.request)
            if self.resource.TYPE.taggable:
                tags.converge(self.client, self._arn(name), desired=desired, managed=desired)
        except InvalidProperty:
            self._release(name)
            raise  # the declared properties cannot describe this resource
        except Exception as error:
            self._release(name)
            raise ses_failure(self.resource, name, self.request, error) from error
        return attributes

    def _release(self, name: str) -> None:
        try:
            self.resource.release(name, self.request)  # what the type made besides SES (RELEASES)
        except Exception as error:  # noqa: BLE001 - reported; the claim is released anyway
            logger.warning("could not remove what was made for %s: %s", name, error)
        try:
            self.store.delete(self._arn(name))
        except Exception:  # noqa: BLE001 - a stale claim of this resource is resumed or replaced later
            logger.warning("could not release the claim on %s", name)

    def settle_failed_create(self, name: str, failed: ProviderError) -> None:
        """Hand back the real name when SES made the resource after all (the rollback Delete
        then removes it), else release the claim so that the name stays free."""
        if failed.physical_id is None and failed.code not in _REJECTED:
            # A timeout or a 5xx after retries: the call may have gone through.
            try:
                if exists(self.resource, name, self.client):
                    failed.physical_id = name  # we claimed it absent, so it is ours
            except Exception:  # noqa: BLE001 - keep the claim: a later request of this resource resumes
                logger.warning("could not tell whether %s was created", name)
                return
        if failed.physical_id is None:
            self._release(name)

    # --- the record ------------------------------------------------------------------------

    def record(self, name: str) -> desired_state.Record | None:
        try:
            return self.store.get(self._arn(name))
        except Exception as error:
            raise ProviderError(f"{self._what(name)}: could not read its desired tags ({type(error).__name__})") from error

    def save(
        self, name: str, props: dict, desired: dict, managed, created_by: str, adopted: bool = False, version: int = 1
    ) -> None:
        """Record the desired tags, once SES has accepted the change; this settles a claim.
        `version`: the record's new version (an Update's is one past the record it read).

        A record that cannot be written fails the request: a FAILED Create hands back the
        real id, so CloudFormation's rollback removes the resource; a FAILED Update rolls
        back to the previous properties. CloudFormation and SES never disagree; only the
        repair waits."""
        record = desired_state.Record(
            arn=self._arn(name),
            stack_id=self.request.stack_id,
            logical_id=self.request.logical_id,
            resource_type=self.resource.TYPE.type_name,
            name=name,
            properties=self.kept_properties(name, props),
            declared=tags.to_dict(props.get("Tags")),
            desired=desired,
            managed_keys=frozenset(managed) | set(desired),
            propagate_stack_tags=bool(props.get("PropagateStackTags")),
            drift_repair=bool(props.get("TagDriftRepair")),
            created_by=created_by,
            adopted=adopted,
            share_with=tuple(props.get("ShareWith") or ()),
            version=version,
        )
        try:
            self.store.put(record)
        except Exception as error:
            raise ProviderError(
                f"{self._what(name)}: SES accepted the change but its desired tags could not be"
                f" recorded ({type(error).__name__}); failing so that CloudFormation rolls back",
                name,
            ) from error

    def kept_properties(self, name: str, props: dict) -> dict | None:
        """What the record keeps of the declared properties: all but the secrets, named as the
        resource is (an omitted name filled in), for a type that can drift; else None."""
        resource = self.resource
        if not resource.DRIFTS:
            return None
        kept = resource.TYPE.properties.without_secrets(resource.TYPE.identity.filled(props, name))
        if not state_table.properties_fit(kept):
            logger.warning("%s: the declared properties are too long to keep; drift of it is not compared", name)
            return None
        return kept

    def forget(self, name: str) -> None:
        """After a Delete: the record goes last, so that it proves the resource ours until SES
        has deleted it (a retry after a crash between the two finds it still)."""
        try:
            self.store.delete(self._arn(name))
        except Exception as error:
            raise ProviderError(f"{self._what(name)}: could not remove its desired tags ({type(error).__name__})") from error

    # --- clean-up of what CloudFormation was never told of -------------------------------

    def _lookup(self, name: str) -> tuple[bool, desired_state.Record | None]:
        """(True, the record or None), or (False, None) when the table could not be read:
        nothing is removed without knowing whose it is."""
        try:
            return True, self.store.get(self._arn(name))
        except Exception as error:  # noqa: BLE001 - reported; the caller leaves the resource
            logger.error("could not read the record of %s: %s", name, error)
            return False, None

    def discard(self, name: str) -> None:
        """Remove a resource this request made that CloudFormation will never know of. One
        it took over instead is only released: it existed before the stack."""
        read, record = self._lookup(name)
        if read:
            self._remove(name, record)

    def _remove(self, name: str, record: desired_state.Record | None) -> None:
        if record is not None and record.adopted:
            logger.warning("releasing %s: taken over by this request, it existed before the stack and stays", name)
            self._release(name)
            return
        try:
            self.resource.delete(name, self.client, self.request)
        except Exception as error:  # noqa: BLE001 - reported, the answer is FAILED anyway
            if error_code(error) != "NotFoundException":
                logger.error("could not remove the half-made %s: %s", name, error)
                return  # its claim stays: a later request of this resource resumes it
        self._release(name)

    def discard_own(self, name: str) -> None:
        """A later delivery of an answered request: remove `name` if this very request made
        it (its record says so) and the answer did not name it; else leave it."""
        _, record = self._lookup(name)
        if record is not None and record.made_by(self.request.request_id):
            logger.warning("removing %s: made by this request, which CloudFormation was told nothing of", name)
            self._remove(name, record)

    def discard_if_abandoned(self, name: str) -> None:
        """A Create that the timer answered with `name` finished after all: if
        CloudFormation's rollback Delete already removed the claim, it ran before SES made
        the resource, and nothing else would ever remove it."""
        read, record = self._lookup(name)
        if read and record is None:
            logger.warning("removing %s: made after CloudFormation's rollback had deleted it", name)
            self._remove(name, None)


class Unrecorded(Ledger):
    """No table: nothing is claimed or recorded, and nothing is removed that needs a record
    to prove it ours. A replacement half made by this very request is still removed."""

    records = False

    def claim(self, name: str, adopt: bool = False) -> str:
        return CREATE  # without a record, a resource is only ever created

    def resumes(self, failed: ProviderError) -> bool:
        return False  # without a claim, an existing name may be anyone's

    def _release(self, name: str) -> None:
        pass

    def settle_failed_create(self, name: str, failed: ProviderError) -> None:
        pass

    def record(self, name: str) -> None:
        return None

    def save(
        self, name: str, props: dict, desired: dict, managed, created_by: str, adopted: bool = False, version: int = 1
    ) -> None:
        pass

    def forget(self, name: str) -> None:
        pass

    def discard(self, name: str) -> None:
        self._remove(name, None)  # no record to prove otherwise: a half-made replacement

    def discard_own(self, name: str) -> None:
        pass

    def discard_if_abandoned(self, name: str) -> None:
        pass
