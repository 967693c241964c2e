"""moto 5.2's Route 53, corrected where identity_dns relies on Route 53's semantics.

`install()` patches moto's Route 53 backend and responses in this process; the
ThreadedMotoServer of tools.local.servers serves them on the same port as SES v2.

What Route 53 does, from the API reference of ChangeResourceRecordSets and GetChange and
botocore's route53 model (error shapes), and what moto 5.2 does instead:
- A change batch is transactional: "Route 53 validates the changes in the request and then
  either makes all or none of the changes". Moto applies the changes one by one.
- CREATE of a record set that exists fails: InvalidChangeBatch "Tried to create resource
  record set [name='N', type='T'] but it already exists" (Route 53's message as reported in
  DefangLabs/docs-chatbot#22). Moto checks its change history instead, so a CREATE with
  another value adds a second set of the same name and type.
- DELETE must name the set as it is ("To delete a resource record set, you must specify all
  the same values that you specified when you created it"): InvalidChangeBatch "Tried to
  delete resource record set [name='N', type='T'] but the values provided do not match the
  current values" (hashicorp/terraform#18509, kubernetes-sigs/external-dns#732), or "... but
  it was not found"; TTL and values must match, the values in any order. Moto checks its
  history (InvalidInput) and then deletes whatever set has the name and type.
- A CNAME cannot share its name with another record set (RFC 1034 3.6.2): InvalidChangeBatch
  "RRSet of type CNAME with DNS name N is not permitted as it conflicts with other records
  with the same DNS name in zone Z", and for another type next to a CNAME "RRSet of type T
  with DNS name N is not permitted because a conflicting RRSet of type CNAME with the same
  DNS name already exists in zone Z" (Route 53's messages as users report them; the API
  reference gives no text). Moto allows both.
- Names are kept in lower case with a final dot ("Route 53 ... stores alphabetic characters
  as lowercase letters", DNS domain name format, Route 53 Developer Guide). Moto keeps them as
  sent.
- A change is PENDING at first ("This is the initial status of all change batch requests")
  and INSYNC once it reached every Route 53 name server, "generally within 60 seconds";
  each change has its own id; GetChange of an unknown id is NoSuchChange (404). Moto answers
  INSYNC at once, with one fixed id for every change. Here a change turns INSYNC after
  PROPAGATION_SECONDS (settable by tests; default 0: at the first GetChange).

Each record set also remembers when it was written (`written_at`), so that the local SES can
see when an identity's DNS records appeared (moto_ses_fidelity: DNS-driven verification).

Not corrected (nothing here relies on it): weighted, latency and other routing policies,
aliases, traffic policies, and the limits of a batch.
"""

from __future__ import annotations

import os
import secrets
import string
import threading
import time
from typing import Any, Callable

from moto.route53.exceptions import Route53ClientError
from moto.route53.models import RecordSet, Route53Backend
from moto.route53.responses import Route53

__all__ = ["install", "PROPAGATION_SECONDS", "record_sets"]

PROPAGATION_SECONDS = float(os.environ.get("LOCAL_ROUTE53_PROPAGATION_SECONDS", "0"))

_lock = threading.Lock()
_installed = False
_original: dict[str, Callable] = {}
_changes: dict[str, float] = {}  # change id -> time.monotonic() when it was made
_batches = threading.Lock()  # Route 53 applies one batch at a time; the server is threaded


class InvalidChangeBatch(Route53ClientError):
    def __init__(self, message: str):
        super().__init__("InvalidChangeBatch", message)


class NoSuchChange(Route53ClientError):
    def __init__(self, change_id: str):
        super().__init__("NoSuchChange", f"A change with the specified change ID does not exist: {change_id}")


def _dotted(name: str) -> str:
    return name.lower().rstrip(".") + "."


def _values(record_set: dict) -> list[str]:
    return [r["Value"] if isinstance(r, dict) else r for r in record_set.get("ResourceRecords") or []]


def _as_dict(record_set: RecordSet) -> dict:
    data = {"Name": record_set.name, "Type": record_set.type}
    if record_set.ttl is not None:
        data["TTL"] = int(record_set.ttl)
    if record_set.records:
        data["ResourceRecords"] = list(record_set.records)
    for key, attribute in (("SetIdentifier", "set_identifier"), ("AliasTarget", "alias_target"), ("Weight", "weight")):
        if getattr(record_set, attribute) is not None:
            data[key] = getattr(record_set, attribute)
    return data


def change_resource_record_sets(self: Route53Backend, zoneid: str, change_list: list[dict]) -> None:
    """All or nothing; CREATE of an existing set and DELETE of a set that is not exactly as
    named fail with InvalidChangeBatch; CNAMEs share their name with nothing."""
    with _batches:
        _apply_batch(self.get_hosted_zone(zoneid), change_list)


def _apply_batch(zone: Any, change_list: list[dict]) -> None:
    zone_name = _dotted(zone.name)
    sets = {(_dotted(s.name), s.type, s.set_identifier): s for s in zone.rrsets}
    state: dict[tuple, dict | None] = {key: _as_dict(s) for key, s in sets.items()}
    now = time.time()
    written: dict[tuple, float] = {}
    for change in change_list:
        action, wanted = change["Action"], change["ResourceRecordSet"]
        name, kind = _dotted(wanted["Name"]), wanted["Type"]
        key = (name, kind, wanted.get("SetIdentifier"))
        if name != zone_name and not name.endswith("." + zone_name):
            raise InvalidChangeBatch(f"[RRSet with DNS name {name} is not permitted in zone {zone_name}]")
        current = state.get(key)
        if action == "DELETE":
            if current is None:
                raise InvalidChangeBatch(f"[Tried to delete resource record set [name='{name}', type='{kind}'] but it was not found]")
            # The values in any order (a set's values have none in DNS).
            if current.get("TTL") != (int(wanted["TTL"]) if "TTL" in wanted else None) or sorted(current.get("ResourceRecords", [])) != sorted(_values(wanted)):
                raise InvalidChangeBatch(
                    f"[Tried to delete resource record set [name='{name}', type='{kind}'] but the values provided do not match the current values]"
                )
            state[key] = None
            continue
        if action == "CREATE" and current is not None:
            raise InvalidChangeBatch(f"[Tried to create resource record set [name='{name}', type='{kind}'] but it already exists]")
        others = {k[1] for k, v in state.items() if v is not None and k[0] == name and k != key}
        if kind == "CNAME" and others:
            raise InvalidChangeBatch(
                f"[RRSet of type CNAME with DNS name {name} is not permitted as it conflicts with other records with the same DNS name in zone {zone_name}]"
            )
        if kind != "CNAME" and "CNAME" in others:
            raise InvalidChangeBatch(
                f"[RRSet of type {kind} with DNS name {name} is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone {zone_name}]"
            )
        state[key] = {**{k: v for k, v in wanted.items() if k != "ResourceRecords"}, "Name": name, "ResourceRecords": _values(wanted)}
        if "TTL" in wanted:
            state[key]["TTL"] = int(wanted["TTL"])
        written[key] = now
    rebuilt = []
    for key, data in state.items():
        if data is None:
            continue
        record_set = sets[key] if key in sets and key not in written else RecordSet(data)
        if key in written:
            record_set.written_at = written[key]
        rebuilt.append(record_set)
    zone.rrsets = rebuilt


def _respond_change(self: Route53) -> Any:
    result = _original["change_resource_record_sets"](self)
    change_id = "C" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(20))
    with _lock:
        _changes[change_id] = time.monotonic()
    result.result["ChangeInfo"].update(Id=f"/change/{change_id}", Status="PENDING")
    return result


def _respond_get_change(self: Route53) -> Any:
    result = _original["get_change"](self)
    change_id = str(self._get_param("Id") or "").rsplit("/", 1)[-1]
    with _lock:
        made = _changes.get(change_id)
    if made is None:
        raise NoSuchChange(change_id)
    insync = time.monotonic() - made >= PROPAGATION_SECONDS
    result.result["ChangeInfo"].update(Id=f"/change/{change_id}", Status="INSYNC" if insync else "PENDING")
    return result


def install() -> None:
    """Apply the patches once; later calls do nothing."""
    global _installed
    with _lock:
        if _installed:
            return
        _original["change_resource_record_sets"] = Route53.change_resource_record_sets
        _original["get_change"] = Route53.get_change
        Route53Backend.change_resource_record_sets = change_resource_record_sets
        Route53.change_resource_record_sets = _respond_change
        Route53.get_change = _respond_get_change
        _installed = True


# --- what the local SES reads -------------------------------------------------------------------


def record_sets(account: str) -> list[tuple[str, str, list[str], float]]:
    """Every simple record set of the account's zones: (name with its final dot, type, values,
    when it reached every Route 53 name server), for the local SES's DNS lookups."""
    from moto.route53.models import route53_backends

    found = []
    for partition in ("aws",):  # the backends of this process's one account and partition
        for zone in route53_backends[account][partition].zones.values():
            if zone.private_zone:
                continue  # SES looks records up in public DNS
            for record_set in zone.rrsets:
                if record_set.set_identifier is None and record_set.records:
                    visible = getattr(record_set, "written_at", 0.0) + PROPAGATION_SECONDS
                    found.append((_dotted(record_set.name), record_set.type, list(record_set.records), visible))
    return found

