"""Custom::DedicatedIpPool: an SES v2 dedicated IP pool."""

from __future__ import annotations

from .contract import ResourceHandler
from .request import Request
from .errors import unless_missing
from .schema import (
    ADOPTION_PROPERTIES, DRIFT_PROPERTIES, DEFAULT, NOT_COMPARED, NOT_COMPARED_EVERYWHERE, SHARING_PROPERTIES, TAG_SYNC_PROPERTIES, TAGS, Enum,
    InvalidProperty, Object, ResourceType, Rule, String,
)
from .tags import to_dict, to_list

NAME_PATTERN = r"[a-z0-9_-]{1,64}"

TYPE = ResourceType(
    type_name="Custom::DedicatedIpPool",
    native_type="AWS::SES::DedicatedIpPool",
    arn_kind="dedicated-ip-pool",
    name_property="PoolName",
    name_pattern=NAME_PATTERN,
    properties=Object(
        fields={
            "PoolName": String(
                pattern=NAME_PATTERN,
                create_only=True,
                doc="Generated, lowercase, when omitted. A change replaces the pool.",
            ),
            "ScalingMode": Enum(
                "STANDARD",
                "MANAGED",
                default="STANDARD",
                # SES turns a STANDARD pool MANAGED in place, never back.
                create_only=lambda old, new: old == "MANAGED" and new != "MANAGED",
                doc="STANDARD (default) or MANAGED. MANAGED to STANDARD replaces the pool.",
            ),
            "Tags": TAGS,
            **TAG_SYNC_PROPERTIES,
            **ADOPTION_PROPERTIES,
            **SHARING_PROPERTIES,
            **DRIFT_PROPERTIES,
        }
    ),
    actions=(
        "ses:CreateDedicatedIpPool",
        "ses:DeleteDedicatedIpPool",
        "ses:GetDedicatedIpPool",
        "ses:PutDedicatedIpPoolScalingAttributes",
        "ses:TagResource",
        "ses:UntagResource",
        "ses:ListTagsForResource",
    ),
    attributes={
        "Arn": "arn:PARTITION:ses:REGION:ACCOUNT:dedicated-ip-pool/NAME",
        "PoolName": "the pool's name (also Ref)",
        "ScalingMode": "STANDARD or MANAGED",
    },
    comparison=(
        Rule("PoolName", NOT_COMPARED, why="the name the pool is read by"),
        Rule("ScalingMode", DEFAULT, "STANDARD", why="SES's default; the schema's too"),
        *NOT_COMPARED_EVERYWHERE,
    ),
)


class DedicatedIpPool(ResourceHandler):
    """Custom::DedicatedIpPool: CreateDedicatedIpPool; an Update turns a pool MANAGED, the one
    change SES makes in place."""

    TYPE = TYPE
    NAME_GENERATION = {"max_length": 64, "lowercase": True}
    SET_BY_CREATE = ("PoolName", "ScalingMode")

    def create(self, props: dict, client, request: Request) -> tuple[str, dict]:
        name = props["PoolName"]
        call = {"PoolName": name, "ScalingMode": props["ScalingMode"]}
        if props.get("Tags"):
            call["Tags"] = to_list(to_dict(props["Tags"]))
        client.create_dedicated_ip_pool(**call)
        return name, attributes(name, props, request)

    def update(self, name: str, props: dict, old: dict, client, request: Request) -> dict:
        # SES turns a pool MANAGED in place and never back (lifecycle replaces the pool for
        # MANAGED to STANDARD): Put MANAGED is the one change there is, and only to a pool that
        # is not MANAGED already.
        # `old` is empty only for a pool taken over (AdoptExisting): then SES says what it is.
        taken_over = not old
        before = _scaling_mode_before(name, old, client) if props["ScalingMode"] == "MANAGED" or taken_over else old.get("ScalingMode") or "STANDARD"
        if props["ScalingMode"] == "MANAGED" and before != "MANAGED":
            client.put_dedicated_ip_pool_scaling_attributes(PoolName=name, ScalingMode="MANAGED")
        elif props["ScalingMode"] == "STANDARD" and before == "MANAGED":
            # A known MANAGED to STANDARD change is a replacement (lifecycle); a pool taken over
            # cannot be replaced under the same name.
            raise InvalidProperty("ScalingMode", "the pool is MANAGED in SES, and SES cannot make it STANDARD again; declare MANAGED")
        return attributes(name, props, request)

    def delete(self, name: str, client, request=None) -> None:
        client.delete_dedicated_ip_pool(PoolName=name)

    def read(self, name: str, client) -> None:
        """Raises NotFoundException when there is no such resource (lifecycle's existence check)."""
        client.get_dedicated_ip_pool(PoolName=name)

    DRIFTS = True

    def unrepairable(self, declared, live, groups) -> str | None:
        if live is not None and live.get("ScalingMode") == "MANAGED" and declared.get("ScalingMode") != "MANAGED":
            # botocore's sesv2 model: "MANAGED pools cannot be converted to STANDARD".
            return "SES cannot make a MANAGED pool STANDARD again: declare MANAGED, or replace the pool"
        return None

    def read_declared(self, name: str, client) -> dict | None:
        """GetDedicatedIpPool, as the properties declare a pool; None when it is gone."""
        answer = unless_missing(client.get_dedicated_ip_pool, PoolName=name)
        return None if answer is None else TYPE.properties.shape(answer.get("DedicatedIpPool") or {})


def _scaling_mode_before(name: str, old: dict, client) -> str:
    """The previous ScalingMode. The schema fills in STANDARD when it is omitted, so it is
    missing only when the previous properties could not be read (lifecycle then compares
    against nothing, e.g. the rollback of an update that the schema refused): then the
    pool in SES says what it is, not an assumed STANDARD."""
    if old.get("ScalingMode"):
        return old["ScalingMode"]
    return client.get_dedicated_ip_pool(PoolName=name)["DedicatedIpPool"].get("ScalingMode") or "STANDARD"


def attributes(name: str, props: dict, request: Request) -> dict:
    return {"Arn": request.arns.arn(TYPE.arn_kind, name), "PoolName": name, "ScalingMode": props["ScalingMode"]}


HANDLER = DedicatedIpPool()
