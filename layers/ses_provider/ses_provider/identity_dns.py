"""Route 53 publishing of the DNS records an email identity needs (`HostedZoneId`,
`OverwriteDnsRecords` of Custom::EmailIdentity). email_identity computes the records
(`dns_records`); this module writes them to the zone, changes them, and removes them.

What is written: every record of `email_identity.dns_records` (the whole list, never the
DnsRecords attribute, which may be trimmed to fit the response).

Route 53's unit is a record set, (name, type), whose values are written and deleted together;
DELETE must name the set exactly as it is (API reference, ChangeResourceRecordSets: "To delete
a resource record set, you must specify all the same values that you specified when you
created it"), and a change batch is all or nothing ("Change batches are considered
transactional changes"). So every write here is a compare-and-swap on the set as it was read:
CREATE where there is none (it fails if one appeared meanwhile), or DELETE of the set read
plus CREATE of the new one, in one batch (it fails if the set changed meanwhile). UPSERT is
never used: it would replace whatever is there by then.

The rules for a set that exists:
- it holds our value already: nothing to write (a retry after a crash; or the user published
  it: then it is not ours and is never removed);
- CNAME and MX sets hold one answer for SES: another value is a conflict. A TXT set at the
  name may hold other TXT values (site verifications...): ours is added next to them, and
  only a value of the same kind (another SPF `v=spf1` at the MAIL FROM domain, another
  `v=DMARC1`, another DKIM key) is a conflict, as two SPF or DMARC records make both void
  (RFC 7208 4.5, RFC 7489 6.6.3);
- a conflict is FAILED, naming the record and the value found, before any write and without
  touching the zone, unless OverwriteDnsRecords: then the rival values are replaced by ours
  (and ours is removed on Delete; what it replaced is not restored);
- a set with a routing policy or an alias (SetIdentifier, AliasTarget) is never touched.

What "ours" is: the values this resource wrote. It cannot be recomputed on Delete from the
properties and GetEmailIdentity: the suggested DMARC, SPF and MX values are the same for
everyone, so a record the user had published before with the same value would be taken for
ours and deleted with the stack; and Easy DKIM tokens of a previous signing configuration are
gone from GetEmailIdentity once it changed. So the values written are kept in the
desired-state table, in an item of their own (`dns:<identity ARN>`, no StackId, so TagSync
never sees it): names, types and values of public DNS records, nothing secret (the BYODKIM
TXT holds the public key). It is written before the zone changes (the values about to be
written, with those owned already: a crash after the Route 53 write leaves nothing unowned)
and settled after; a retry looks at the zone again and converges. The values being written
are marked `Pending` until then: a rollback Delete that finds the item unsettled (the timer
answered while the write was under way) keeps those not yet in the zone listed, with a TTL,
so that the request's own clean-up removes them once the write lands. Without a table (a
local run) nothing is known to be ours, so nothing is ever removed.

When: a Create checks the records it can name before CreateEmailIdentity (all but the Easy
DKIM CNAMEs, whose names SES picks: random tokens, that nobody else holds), so a conflict
fails the Create before SES is called; it publishes after the identity exists, and a failure
from then on hands CloudFormation the identity's name, whose rollback Delete removes the
identity and exactly what was published. Delete removes the records before the identity.

Which zones: only those of the provider stack's HostedZoneIds (`*`: every zone; default none),
and OverwriteDnsRecords only with its AllowDnsOverwrite: checked before any call
(`check_allowed`). Records this identity wrote in a zone no longer listed are left there, and
a Delete still succeeds (`_within_reach`).

The wait: after the write, GetChange until INSYNC ("Changes generally propagate to all Route
53 name servers managing the hosted zone within 60 seconds", API reference), polled with a
bounded backoff within the request's remaining time; if time runs out the answer is FAILED
saying the change is still PENDING. A removal is not waited for: nothing depends on it.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Iterable

from . import parameters
from .errors import ProviderError, error_code, reason
from .request import Request
from .schema import InvalidProperty
from .state_table import DnsOwnership, DnsValue

logger = logging.getLogger(__name__)

ROUTE53 = "route53"
# Route 53's ResourceId is at most 32 characters (botocore's model); zone ids are upper-case
# letters and digits, given bare or as GetHostedZone writes them (/hostedzone/Z...).
ZONE_PATTERN = r"(?:/hostedzone/)?[A-Z0-9]{1,32}"
POLL_FIRST, POLL_FACTOR, POLL_MAX = 0.25, 2.0, 10.0  # seconds between GetChange calls
SHOWN_VALUE = 60  # characters of a value found, in a reason

# The provider stack's HostedZoneIds and AllowDnsOverwrite parameters (template.yaml). Any
# stack of the account can invoke the provider, whose role may change records: the zones it
# writes to, and whether it may replace what others published, are the provider owner's
# decision. The same list is the Resource of the PublishDnsRecords statement, so IAM and this
# check agree; the check refuses before any call, naming the parameter, instead of an
# AccessDenied from Route 53 after SES made the identity.
ZONES_ENVIRONMENT = "HOSTED_ZONE_IDS"
OVERWRITE_ENVIRONMENT = "ALLOW_DNS_OVERWRITE"
EVERY_ZONE = "*"
# The Resource of PublishDnsRecords in template.yaml: hostedzone/ID for each id of the list
# (`*`: hostedzone/*). Fn::Join's delimiter cannot hold ${AWS::Partition}: the partition is a
# wildcard, and a role acts in its own partition only.
_ZONE_ARN = "arn:*:route53:::hostedzone/"
ZONES_RESOURCE = {"Fn::Split": [",", {"Fn::Join": ["", [_ZONE_ARN, {"Fn::Join": ["," + _ZONE_ARN, {"Ref": "HostedZoneIds"}]}]]}]}
# The record types an identity writes (Easy DKIM CNAMEs; MAIL FROM MX; SPF, DMARC and BYODKIM
# TXT), the only ones its IAM statement lets it change.
RECORD_TYPES = ("CNAME", "MX", "TXT")


def zone_id(value: str | None) -> str:
    """The bare id of a hosted zone ("" for none), as Route 53 names it: upper case, without the
    /hostedzone/ of GetHostedZone's Id."""
    return (value or "").strip().rsplit("/", 1)[-1].upper()


def allowed_zones(value: str | None = None) -> frozenset[str]:
    """The HostedZoneIds list (comma-separated; blanks dropped); {"*"} allows every zone."""
    return frozenset(item if item == EVERY_ZONE else zone_id(item) for item in parameters.listed(ZONES_ENVIRONMENT, value))


def zone_allowed(zone: str, allowed: frozenset[str] | None = None) -> bool:
    allowed = allowed_zones() if allowed is None else allowed
    return EVERY_ZONE in allowed or zone_id(zone) in allowed


def overwrite_allowed() -> bool:
    return parameters.flag(OVERWRITE_ENVIRONMENT)


def validate(name: str, props: dict) -> None:
    if props.get("HostedZoneId") and "@" in name:
        raise InvalidProperty("HostedZoneId", "an email address needs no DNS records (its domain's identity publishes them)")


def check_allowed(props: dict) -> None:
    """Before any SES or Route 53 call: the zone is one the provider stack lists, and replacing
    others' records is switched on. An identity published before the list existed is refused
    the same way on its next Create or Update (never on Delete: see unpublish)."""
    zone = zone_id(props.get("HostedZoneId"))
    if zone and not zone_allowed(zone):
        raise InvalidProperty(
            "HostedZoneId",
            f"{zone} is not in the provider stack's HostedZoneIds; add it there to let the provider publish"
            " in this zone",
        )
    if props.get("OverwriteDnsRecords") and not overwrite_allowed():
        raise InvalidProperty(
            "OverwriteDnsRecords",
            "replacing DNS records is switched off for this provider; deploy the provider stack with"
            " AllowDnsOverwrite=true to allow it",
        )


# --- values ------------------------------------------------------------------------------------


def _txt_strings(value: str) -> list[str]:
    """The character strings of a TXT value as Route 53 writes it ("a" "b"), unescaped."""
    found = re.findall(r'"((?:[^"\\]|\\.)*)"', value)
    return [re.sub(r"\\(.)", r"\1", text) for text in found] if found else [value]


def written(kind: str, value: str) -> str:
    """A value as Route 53 takes it: TXT in quotes, split in strings of at most 255 characters
    (a 2048-bit DKIM key is longer; RFC 1035 3.3.14 and Route 53's TXT record format)."""
    if kind != "TXT" or value.startswith('"'):
        return value
    return " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255)) or '""'


def _same(kind: str, value: str) -> str:
    """What makes two values the same record: TXT strings joined; names without case or the
    final dot."""
    if kind == "TXT":
        return "".join(_txt_strings(value))
    return value.lower().rstrip(".")


def _tag(kind: str, value: str) -> str:
    """The kind of a value that only one record at a name may hold ("" for any TXT)."""
    if kind != "TXT":
        return kind  # CNAME: one per name (RFC 1034 3.6.2); MX: the MAIL FROM domain's is SES's
    text = _same(kind, value).strip().lower()
    for prefix, tag in (("v=spf1", "spf"), ("v=dmarc1", "dmarc"), ("v=dkim1", "dkim"), ("p=", "dkim"), ("k=", "dkim")):
        if text.startswith(prefix):
            return tag
    return ""


def _name(name: str) -> str:
    return name.lower().rstrip(".")


class Entry(DnsValue):
    """One value of one record set in one zone (zone, name, kind, value as written)."""

    __slots__ = ()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.zone, _name(self.name), self.kind)

    @property
    def same(self) -> tuple:
        return (*self.key, _same(self.kind, self.value))


def wanted(zone: str, records: Iterable[dict]) -> list[Entry]:
    return [Entry(zone, r["Name"], r["Type"], written(r["Type"], v)) for r in records for v in r["Values"]]


# --- what is ours: the item in the desired-state table -------------------------------------------


class Ownership:
    """The values this identity wrote, kept in the desired-state table (state_table.DnsOwnership);
    nothing without a table."""

    def __init__(self, name: str, request: Request):
        self.name = name
        self.store = request.store
        self.identity_arn = request.arns.arn("identity", name)

    def _failed(self, error: Exception) -> ProviderError:
        return ProviderError(f"EmailIdentity {self.name}: could not record its DNS records ({type(error).__name__})")

    def read(self) -> tuple[list[Entry], bool, set[Entry]]:
        """(the values owned, whether the last change was settled, the values it was writing)."""
        if self.store is None:
            return [], True, set()
        try:
            owned = self.store.dns_ownership(self.identity_arn)
        except Exception as error:
            raise self._failed(error) from error
        return [Entry(*value) for value in owned.records], owned.settled, {Entry(*value) for value in owned.pending}

    def write(self, entries: Iterable[Entry], settled: bool, pending: Iterable[Entry] = (), expires: bool = False) -> None:
        """`pending`: the values a change is about to write. `expires`: the table's TTL removes
        the item a day later (values that may yet land). Owning nothing, settled: no item."""
        if self.store is None:
            return
        ownership = DnsOwnership(self.identity_arn, _ordered(entries), settled, _ordered(pending))
        try:
            self.store.save_dns_ownership(ownership, expires)
        except Exception as error:
            raise self._failed(error) from error


def _ordered(entries: Iterable[Entry]) -> tuple[Entry, ...]:
    return tuple(sorted(set(entries), key=lambda e: e.same))


# --- reading the zone --------------------------------------------------------------------------


class Zones:
    """The record sets read, per (zone, name, type); None where there is none."""

    def __init__(self, name: str, request: Request):
        self.name = name
        self.request = request
        self.route53 = request.services(ROUTE53) if request.services else None
        self.sets: dict[tuple[str, str, str], dict | None] = {}
        self.gone: set[str] = set()  # zones that do not exist (any more)

    def failure(self, error: Exception, zone: str) -> ProviderError:
        where = f"{self.request.arns.region}, Route 53 zone {zone}"
        return ProviderError(reason(error, f"EmailIdentity {self.name}", where, service="Route 53"), code=error_code(error))

    def read(self, keys: Iterable[tuple[str, str, str]], missing_zone_ok: bool = False) -> None:
        for zone, name, kind in sorted(set(keys)):
            if (zone, name, kind) in self.sets or zone in self.gone:
                continue
            try:
                page = self.route53.list_resource_record_sets(
                    HostedZoneId=zone, StartRecordName=name, StartRecordType=kind, MaxItems="1"
                )
            except Exception as error:
                if error_code(error) == "NoSuchHostedZone" and missing_zone_ok:
                    self.gone.add(zone)  # a zone deleted since: whatever was ours went with it
                    continue
                raise self.failure(error, zone) from error
            found = [s for s in page.get("ResourceRecordSets", []) if (_name(s["Name"]), s["Type"]) == (name, kind)]
            self.sets[(zone, name, kind)] = found[0] if found else None


# --- the plan ---------------------------------------------------------------------------------


@dataclass
class Plan:
    changes: dict[str, list[dict]]  # zone -> the changes of its one batch
    owned: set[Entry]  # ours once the changes are made
    written: set[Entry]  # the values the changes write
    conflicts: list[str]
    in_flight: bool = False  # `owned` lists values whose write may still land (unpublish)


def _shown(values: list[str]) -> str:
    text = ", ".join(values)
    return text if len(text) <= SHOWN_VALUE else text[: SHOWN_VALUE - 3] + "..."


def plan(zones: Zones, want: list[Entry], owned: list[Entry], overwrite: bool, ttl: int) -> Plan:
    """The changes that make every zone hold `want`, and none of the values in `owned` that are
    no longer wanted; each set compared with what was read."""
    result = Plan({}, set(), set(), [])
    wanted_by_key: dict[tuple, list[Entry]] = {}
    for entry in want:
        wanted_by_key.setdefault(entry.key, []).append(entry)
    mine = {e.same for e in owned}
    for key in sorted({*wanted_by_key, *(e.key for e in owned)}):
        if key[0] not in zones.gone:
            _plan_set(result, key, zones.sets.get(key), wanted_by_key.get(key, []), owned, mine, overwrite, ttl)
    return result


def _plan_set(result: Plan, key: tuple, found: dict | None, wants: list[Entry], owned: list[Entry], mine: set,
              overwrite: bool, ttl: int) -> None:
    """Add to `result` what one record set (zone, name, type) needs."""
    zone, name, kind = key
    if found is not None and ("SetIdentifier" in found or "AliasTarget" in found or "ResourceRecords" not in found):
        if wants:
            result.conflicts.append(f"{name} {kind} has a routing policy or is an alias; it is never changed")
        else:
            logger.warning("%s %s in zone %s is no longer a simple record: left as it is", name, kind, zone)
        return
    values = [r["Value"] for r in found["ResourceRecords"]] if found else []
    present = {_same(kind, v) for v in values}
    wanted_same = {_same(kind, e.value) for e in wants}
    # Ours and no longer wanted: removed, where the set still holds it.
    for entry in owned:
        if entry.key == key and _same(kind, entry.value) not in wanted_same and _same(kind, entry.value) not in present:
            logger.warning("%s %s in zone %s no longer holds the value written: left as it is", name, kind, zone)
    new = [v for v in values if not ((*key, _same(kind, v)) in mine and _same(kind, v) not in wanted_same)]
    missing = [e for e in wants if _same(kind, e.value) not in present]
    if missing:
        tags = {_tag(kind, e.value) for e in missing} - {""}
        rivals = [v for v in new if _tag(kind, v) in tags]
        if rivals and not overwrite:
            result.conflicts.append(f"{name} {kind} holds {_shown(rivals)}; set OverwriteDnsRecords to replace it")
            return
        new = [v for v in new if v not in rivals] + [e.value for e in missing]
    result.written |= set(missing)
    result.owned |= set(missing) | {e for e in wants if e.same in mine}
    if new != values:
        result.changes.setdefault(zone, []).extend(_replacing(found, name, kind, new, wanted_same, ttl))


def _replacing(found: dict | None, name: str, kind: str, new: list[str], wanted_same: set, ttl: int) -> list[dict]:
    """The changes that turn the record set `found` (None: absent) into one of the values `new`;
    a set that keeps someone else's values keeps its TTL too."""
    changes = [{"Action": "DELETE", "ResourceRecordSet": found}] if found is not None else []
    if new:
        others = [v for v in new if _same(kind, v) not in wanted_same]
        record = {
            "Name": name,
            "Type": kind,
            "TTL": found["TTL"] if found is not None and others else ttl,
            "ResourceRecords": [{"Value": v} for v in new],
        }
        changes.append({"Action": "CREATE", "ResourceRecordSet": record})
    return changes


# --- publishing ---------------------------------------------------------------------------------


def check(name: str, records: list[dict], props: dict, request: Request) -> Zones | None:
    """Before the identity is created: the records that the properties name are read, and a
    conflict is FAILED before SES is called. Returns what was read, for `publish`."""
    zone = zone_id(props.get("HostedZoneId"))
    if not zone:
        return None
    zones = Zones(name, request)
    want = wanted(zone, records)
    zones.read(e.key for e in want)
    result = plan(zones, want, [], bool(props.get("OverwriteDnsRecords")), _ttl(records))
    _refuse(name, zone, result)
    return zones


def publish(name: str, records: list[dict], props: dict, old: dict, request: Request, zones: Zones | None = None) -> None:
    """Make the zone hold `records`, and no record this identity wrote that is no longer needed
    (in the zone of the old properties, too); then wait for INSYNC."""
    zone = zone_id(props.get("HostedZoneId"))
    if not zone and not old.get("HostedZoneId"):
        return  # Route 53 was never used: no call at all
    ownership = Ownership(name, request)
    owned, settled, _ = ownership.read()
    want = wanted(zone, records) if zone else []
    if settled and {e.same for e in owned} == {e.same for e in want}:
        return  # the zone holds what we wrote, and nothing else is needed
    reachable, left = _within_reach(name, owned)
    zones = zones or Zones(name, request)
    zones.read([e.key for e in want])
    zones.read([e.key for e in reachable], missing_zone_ok=True)  # an old zone may be gone
    result = plan(zones, want, reachable, bool(props.get("OverwriteDnsRecords")), _ttl(records))
    _refuse(name, zone, result)
    result.owned |= set(left)  # still ours: removed once the zone is listed again
    change = _apply(zones, ownership, owned, result, settled, first=zone)
    if change.get(zone):
        _wait(zones, zone, change[zone])


def unpublish(name: str, request: Request) -> None:
    """Remove the values this identity wrote, where the zone still holds them."""
    ownership = Ownership(name, request)
    owned, settled, pending = ownership.read()
    if not owned:
        if request.store is None:
            logger.info("no desired-state table: the DNS records of %s are not known to be ours and stay", name)
        return
    reachable, _ = _within_reach(name, owned)  # the rest is left where it is, and forgotten
    zones = Zones(name, request)
    zones.read([e.key for e in reachable], missing_zone_ok=True)
    result = plan(zones, [], reachable, False, 0)
    if not settled:
        # The request that wrote the item may still be at work: answered FAILED by the timer
        # while its Route 53 call was under way, this being CloudFormation's rollback Delete.
        # The values it was writing that are not in the zone yet stay listed, so that its own
        # clean-up, once the call lands, removes them (protocol.cleanup.after_a_timeout_answer);
        # the item expires.
        result.owned = {e for e in pending if e.zone not in zones.gone and zone_allowed(e.zone) and not _holds(zones, e)}
        result.in_flight = bool(result.owned)
    _apply(zones, ownership, owned, result, settled)


def _within_reach(name: str, owned: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    """(the values owned in zones the provider stack lists, those in zones it no longer lists).
    The provider's role may not touch the latter (HostedZoneIds is its IAM Resource too): they
    are left as they are rather than fail the request, so that a Delete never sticks."""
    allowed = allowed_zones()
    reachable = [e for e in owned if zone_allowed(e.zone, allowed)]
    left = [e for e in owned if not zone_allowed(e.zone, allowed)]
    for zone in sorted({e.zone for e in left}):
        logger.warning(
            "%s: its records in Route 53 zone %s are left as they are: the zone is not in the provider"
            " stack's HostedZoneIds (%s)", name, zone, ", ".join(sorted(f"{e.name} {e.kind}" for e in left if e.zone == zone))
        )
    return reachable, left


def _holds(zones: Zones, entry: Entry) -> bool:
    found = zones.sets.get(entry.key) or {}
    return any(_same(entry.kind, r["Value"]) == _same(entry.kind, entry.value) for r in found.get("ResourceRecords", []))


def _ttl(records: list[dict]) -> int:
    return records[0]["TTL"] if records else 0


def _refuse(name: str, zone: str, result: Plan) -> None:
    if result.conflicts:
        more = f" (and {len(result.conflicts) - 1} more)" if len(result.conflicts) > 1 else ""
        raise ProviderError(f"EmailIdentity {name}, Route 53 zone {zone}: {result.conflicts[0]}{more}")


def _apply(zones: Zones, ownership: Ownership, owned: list[Entry], result: Plan, settled: bool, first: str = "") -> dict[str, str]:
    """Write the changes, each zone's in one batch: ownership first (what is owned and what is
    about to be written), settled after (also when an earlier attempt wrote and died before
    settling). The zone of the properties goes `first`: a move publishes before it removes.
    Returns zone -> the id of its change."""
    changed: dict[str, str] = {}
    if result.changes:
        ownership.write([*owned, *result.written], settled=False, pending=result.written)
    for zone, changes in sorted(result.changes.items(), key=lambda item: item[0] != first):
        try:
            answer = zones.route53.change_resource_record_sets(
                HostedZoneId=zone, ChangeBatch={"Comment": f"SES identity {zones.name}", "Changes": changes}
            )
        except Exception as error:
            if _refused(error) and not changed:
                ownership.write(owned, settled=True)  # Route 53 refused the batch: nothing was written
            raise zones.failure(error, zone) from error
        info = answer["ChangeInfo"]
        changed[zone] = "" if info["Status"] == "INSYNC" else info["Id"]
        logger.info("Route 53 zone %s: %d change(s) for %s", zone, len(changes), zones.name)
    if result.changes or not settled or {e.same for e in owned} != {e.same for e in result.owned}:
        ownership.write(result.owned, settled=not result.in_flight, expires=result.in_flight)
    return changed


def _refused(error: Exception) -> bool:
    """Route 53 answered the batch with a 4xx error: none of it was made (a batch is
    transactional). A timeout or a 5xx leaves it unknown."""
    status = getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return 400 <= status < 500


def _wait(zones: Zones, zone: str, change_id: str) -> None:
    """GetChange until INSYNC, with a bounded backoff, within the time left."""
    delay = POLL_FIRST
    while True:
        if zones.request.remaining() <= delay:
            raise ProviderError(
                f"EmailIdentity {zones.name}, Route 53 zone {zone}: change {zone_id(change_id)} is still PENDING"
                " (written, not yet on every Route 53 name server); the request ran out of time"
            )
        time.sleep(delay)
        delay = min(delay * POLL_FACTOR, POLL_MAX)
        try:
            status = zones.route53.get_change(Id=change_id)["ChangeInfo"]["Status"]
        except Exception as error:
            raise zones.failure(error, zone) from error
        if status == "INSYNC":
            return
