"""Property schemas: one declaration per resource type.

The same declaration coerces CloudFormation's strings, validates, lists the create-only
properties that decide replacement, names the IAM actions and renders the README reference.
"""

from __future__ import annotations

import json
import re
from types import MappingProxyType
from typing import Any, Callable, Mapping, NamedTuple

from . import state_table

# Accepted by every custom resource and never passed on: CloudFormation's own keys.
CLOUDFORMATION_KEYS = frozenset({"ServiceToken", "ServiceTimeout"})


class InvalidProperty(ValueError):
    """Bad input: answered FAILED before any SES call, with the property's path in the reason."""

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


def _options(cls: type) -> frozenset[str]:
    """The option names of a Field class: its annotated attributes and its bases'."""
    names = _OPTIONS.get(cls)
    if names is None:
        names = _OPTIONS[cls] = frozenset(name for klass in cls.__mro__ for name in vars(klass).get("__annotations__", {}))
    return names


_OPTIONS: dict[type, frozenset[str]] = {}


def _show(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Field:
    """A property's declaration: its options are the class attributes annotated below (and in
    a subclass), given by keyword; the class's value is the default.

    Immutable and compared by value, as a frozen dataclass would be. Not a dataclass: the
    schema's classes are defined on every cold start, and each dataclass costs about 0.6 ms
    to define (benchmarks/cold_start.py)."""

    doc: str = ""
    required: bool = False
    # A change of a create-only property replaces the resource. A callable decides per
    # (old, new) pair, for values that SES can change only one way in place.
    create_only: bool | Callable[[Any, Any], bool] = False
    # Filled in when the property is omitted, so that "omitted" and "the default" compare equal.
    default: Any = None
    # Not a property of the native type: an addition of this provider.
    extension: bool = False

    def __init__(self, **options: Any):
        allowed = _options(type(self))
        for name, value in options.items():
            if name not in allowed:
                raise TypeError(f"{type(self).__name__} has no option {name!r}")
            self.__dict__[name] = value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # equal by value, and some values are dicts

    def __repr__(self) -> str:
        given = ", ".join(f"{name}={value!r}" for name, value in self.__dict__.items())
        return f"{type(self).__name__}({given})"

    kind = "any"

    def coerce(self, value: Any, path: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def replaces(self, old: Any, new: Any) -> bool:
        if old == new:
            return False
        if callable(self.create_only):
            return self.create_only(old, new)
        return bool(self.create_only)


class String(Field):
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    min_length: int = 0
    max_length: int | None = None
    secret: bool = False

    kind = "String"

    def coerce(self, value: Any, path: str) -> str:
        # CloudFormation sends numbers as strings already; a bare JSON number (from a
        # hand-written event) is still a scalar that a template author would write.
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InvalidProperty(path, f"must be a string, got {type(value).__name__}")
        value = str(value)
        shown = "(hidden)" if self.secret else _show(value)
        if self.enum and value not in self.enum:
            raise InvalidProperty(path, f"{shown} is not one of {', '.join(self.enum)}")
        if len(value) < self.min_length:
            raise InvalidProperty(path, f"must have at least {self.min_length} characters")
        if self.max_length is not None and len(value) > self.max_length:
            raise InvalidProperty(path, f"must have at most {self.max_length} characters")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise InvalidProperty(path, f"{shown} does not match {self.pattern}")
        return value


class Boolean(Field):
    kind = "Boolean"

    def coerce(self, value: Any, path: str) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InvalidProperty(path, f"must be true or false, got {_show(value)}")


class Integer(Field):
    minimum: int | None = None
    maximum: int | None = None

    kind = "Integer"

    def coerce(self, value: Any, path: str) -> int:
        if isinstance(value, bool):
            raise InvalidProperty(path, f"must be an integer, got {_show(value)}")
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,18}\s*", value):
            number = int(value)
        else:
            raise InvalidProperty(path, f"must be an integer, got {_show(value)}")
        if self.minimum is not None and number < self.minimum:
            raise InvalidProperty(path, f"{number} is below the minimum {self.minimum}")
        if self.maximum is not None and number > self.maximum:
            raise InvalidProperty(path, f"{number} is above the maximum {self.maximum}")
        return number


class Array(Field):
    items: Field = String()
    max_items: int | None = None
    min_items: int | None = None
    unique: bool = False

    kind = "List"

    def coerce(self, value: Any, path: str) -> list:
        if not isinstance(value, list):
            raise InvalidProperty(path, f"must be a list, got {type(value).__name__}")
        if self.max_items is not None and len(value) > self.max_items:
            raise InvalidProperty(path, f"has {len(value)} items, at most {self.max_items} allowed")
        if self.min_items is not None and len(value) < self.min_items:
            raise InvalidProperty(path, f"has {len(value)} items, at least {self.min_items} required")
        result = [self.items.coerce(item, f"{path}[{index}]") for index, item in enumerate(value)]
        if self.unique:
            seen = set()
            for index, item in enumerate(result):
                if item in seen:
                    raise InvalidProperty(f"{path}[{index}]", f"{_show(item)} is repeated")
                seen.add(item)
        return result


class Object(Field):
    fields: Mapping[str, Field] = MappingProxyType({})
    # At most one of these property groups may be given (SES rejects mixed forms).
    exclusive: tuple[tuple[str, ...], ...] = ()
    # One of the exclusive groups must be given.
    exclusive_required: bool = False

    kind = "Object"

    def without_secrets(self, value: Mapping) -> dict:
        """`value` (coerced) without the properties marked secret, at any depth: what may be
        kept (the record's declared properties, desired_state)."""
        kept = {}
        for name, item in value.items():
            spec = self.fields.get(name)
            if getattr(spec, "secret", False):
                continue
            if isinstance(spec, Object) and isinstance(item, Mapping):
                item = spec.without_secrets(item)
            elif isinstance(spec, Array) and isinstance(spec.items, Object) and isinstance(item, list):
                item = [spec.items.without_secrets(entry) if isinstance(entry, Mapping) else entry for entry in item]
            kept[name] = item
        return kept

    def shape(self, value: Mapping) -> dict:
        """A live resource as SES reports it, in the form of these properties: only the members
        declared here (SES reports others too), without those SES did not report (None) and the
        objects that are left empty so. What a type's read gives (ResourceHandler.read_declared)."""
        kept = {}
        for name, spec in self.fields.items():
            item = value.get(name)
            if isinstance(spec, Object) and isinstance(item, Mapping):
                item = spec.shape(item) or None
            elif isinstance(spec, Array) and isinstance(spec.items, Object) and isinstance(item, list):
                item = [spec.items.shape(entry) if isinstance(entry, Mapping) else entry for entry in item]
            if item is not None:
                kept[name] = item
        return kept

    def secret_names(self) -> set[str]:
        """Names of properties that must never be logged, at any depth."""
        names = set()
        for name, spec in self.fields.items():
            if getattr(spec, "secret", False):
                names.add(name)
            if isinstance(spec, Object):
                names |= spec.secret_names()
        return names

    def coerce(self, value: Any, path: str, ignore: frozenset = frozenset()) -> dict:
        if not isinstance(value, dict):
            raise InvalidProperty(path, f"must be an object, got {type(value).__name__}")
        prefix = f"{path}." if path else ""
        for key in value:
            if key not in self.fields and key not in ignore:
                raise InvalidProperty(f"{prefix}{key}", "unknown property")
        result = {}
        for name, spec in self.fields.items():
            if name not in value or value[name] is None:
                if spec.required:
                    raise InvalidProperty(f"{prefix}{name}", "is required")
                if spec.default is not None:
                    result[name] = spec.default
                continue
            result[name] = spec.coerce(value[name], f"{prefix}{name}")
        given = [group for group in self.exclusive if any(name in result for name in group)]
        if self.exclusive_required and not given:
            names = ", ".join("/".join(group) for group in self.exclusive)
            raise InvalidProperty(path or "Properties", f"needs one of {names}")
        if len(given) > 1:
            names = " and ".join("/".join(group) for group in given)
            raise InvalidProperty(path or "Properties", f"{names} cannot be combined")
        for group in given:
            missing = [name for name in group if name not in result]
            if missing:
                raise InvalidProperty(f"{prefix}{missing[0]}", f"is required with {'/'.join(group)}")
        return result


class Map(Field):
    """Names to values: each name checked by `keys`, each value coerced by `values`; errors
    name the entry (`Path.<name>`)."""

    keys: String = String()
    values: Field = String()
    max_items: int | None = None

    kind = "Map"

    def coerce(self, value: Any, path: str) -> dict:
        if not isinstance(value, dict):
            raise InvalidProperty(path, f"must be an object of names to values, got {type(value).__name__}")
        if self.max_items is not None and len(value) > self.max_items:
            raise InvalidProperty(path, f"has {len(value)} entries, at most {self.max_items} allowed")
        result = {}
        for name, item in value.items():
            entry = f"{path}.{name}"
            result[self.keys.coerce(name, entry)] = self.values.coerce(item, entry)
        return result


class JsonObject(Field):
    """A JSON object, given as one or as its text (CloudFormation passes either); coerced to
    the parsed object, so that white space and key order are no change. `max_length` bounds
    its compact text (what is sent)."""

    max_length: int | None = None

    kind = "JSON object"

    def coerce(self, value: Any, path: str) -> dict:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as error:
                problem = getattr(error, "msg", "cannot be parsed")
                where = f" at line {error.lineno} column {error.colno}" if hasattr(error, "lineno") else ""
                raise InvalidProperty(path, f"is not valid JSON ({problem}{where})") from None
        if not isinstance(value, dict):
            raise InvalidProperty(path, f"must be a JSON object, got {type(value).__name__}")
        if self.max_length is not None and len(compact_json(value).encode()) > self.max_length:
            raise InvalidProperty(path, f"must have at most {self.max_length} bytes as compact JSON")
        return value


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def Enum(*values: str, **kwargs) -> String:
    return String(enum=values, **kwargs)


# The shape of Tags; the SES tag rules themselves are checked in tags.validate.
TAGS = Array(
    items=Object(
        fields={
            "Key": String(required=True, min_length=1, max_length=128),
            "Value": String(required=True, max_length=256),
        }
    ),
    doc="Tags applied on create and kept in sync on every update.",
)


# Event-driven tag sync, the same for every type (see desired_state and tag_sync).
TAG_SYNC_PROPERTIES = {
    "PropagateStackTags": Boolean(
        default=True,
        extension=True,
        doc="Apply the stack's tags too (declared tags win), as CloudFormation does for native SES resources.",
    ),
    "TagDriftRepair": Boolean(
        default=True,
        extension=True,
        doc="Let the TagSync function repair tags changed outside the stack.",
    ),
}

# What the reconciler (tag_sync) does when a resource's declared properties drift in SES.
DRIFT_POLICIES = ("Report", "Repair", "Ignore")
DRIFT_PROPERTIES = {
    "DriftPolicy": Enum(
        *DRIFT_POLICIES,
        default="Report",
        extension=True,
        doc="What the TagSync function does when SES no longer holds the declared properties: Report (default:"
        " a log line, the DriftDetected metric and an EventBridge event), Repair (the same, then the Put calls"
        " that restore them), Ignore (tags only). See docs/operations.md, Drift.",
    ),
}

# Taking over a resource that exists already (crash_safety.Ledger.claim), for every type.
ADOPTION_PROPERTIES = {
    "AdoptExisting": Boolean(
        default=False,
        extension=True,
        doc="Take over a resource of this name that already exists in SES (when the provider stack allows it:"
        " AllowAdoption); it is then brought to the declared properties and tags, and deleted with the stack"
        " unless DeletionPolicy is Retain.",
    ),
}


# Links (ses_provider.links): other stacks' resources may name this one only when it is shared
# with them. Stack names as CloudFormation allows them, or "*".
STACK_NAME_PATTERN = r"[a-zA-Z][-a-zA-Z0-9]{0,127}"
SHARING_PROPERTIES = {
    "ShareWith": Array(
        items=String(pattern=rf"\*|{STACK_NAME_PATTERN}"),
        unique=True,
        max_items=100,  # bounds the record (one DynamoDB item)
        extension=True,
        doc="Names of the other stacks whose resources may link to this one (an event destination on it, a"
        " configuration set sending through it, a default configuration set, a test sent from it), or `*` for"
        " every stack (at most 100); default none: only this stack's own resources (see Links between stacks).",
    ),
}


# --- drift: how a live resource is compared with its declared properties (ses_provider.drift) ---
#
# A type's read (ResourceHandler.read_declared) gives the live resource in the declared form;
# these rules say where what SES reports may differ from what was declared without being
# drift. Data, so that the reference lists them (ses_provider.reference). A rule's path names
# a property as the reference does: `Group.Leaf`, `List[].Leaf` for the items of a list.

DEFAULT = "default"  # omitted (declared or reported) means `value`: SES's default
UNORDERED = "unordered"  # a list compared as a set: order and repeats are no change
CASE = "case"  # compared without regard to case (a domain name)
SPELLING = "spelling"  # each side read through `value`, a mapping of spellings to SES's one
JSON_TEXT = "json"  # a JSON document compared parsed: white space and key order are no change
DECLARED_KEYS = "declared keys"  # a map: only the declared names are compared; others are no drift
NOT_COMPARED = "not compared"  # never compared (`why` says why): a secret, or nothing SES reports


class Rule(NamedTuple):
    path: str
    kind: str
    value: Any = None
    why: str = ""


# Every type's properties that SES does not report as such: the tags (TagSync converges them)
# and this provider's own switches.
NOT_COMPARED_EVERYWHERE = (
    Rule("Tags", NOT_COMPARED, why="converged by TagSync, as before"),
    Rule("PropagateStackTags", NOT_COMPARED, why="the provider's own: SES has no such setting"),
    Rule("TagDriftRepair", NOT_COMPARED, why="the provider's own"),
    Rule("AdoptExisting", NOT_COMPARED, why="the provider's own"),
    Rule("ShareWith", NOT_COMPARED, why="the provider's own"),
    Rule("DriftPolicy", NOT_COMPARED, why="the provider's own"),
)


class Identity:
    """How a type's properties name its resource, and so its physical id.

    This default serves every type whose physical id is the SES name held by one top-level
    property (`name_property`). A type named by more than one property (an event
    destination: its configuration set and its own name) declares a subclass."""

    def __init__(self, name_property: str):
        self.name_property = name_property

    @property
    def properties(self) -> tuple[str, ...]:
        """The top-level properties that make up the physical id."""
        return (self.name_property,)

    def declared(self, props: Any) -> str | None:
        """The physical id the properties declare (raw or coerced); None when the name is to be
        generated."""
        value = props.get(self.name_property) if isinstance(props, Mapping) else None
        return value or None

    def named(self, props: dict, generated: str) -> dict:
        """The properties with a generated name where the template gave none."""
        return {**props, self.name_property: generated}

    def filled(self, props: dict, physical_id: str) -> dict:
        """The properties with the name parts they omit taken from `physical_id`."""
        return {**props, self.name_property: props.get(self.name_property) or physical_id}

    def generated_part(self, physical_id: str, raw: Any) -> str | None:
        """The part of `physical_id` that naming.generate made when the template named none;
        None when the id cannot be such a one for these (raw) properties."""
        return physical_id


class Grant(NamedTuple):
    """IAM actions on another service that a type's function calls: one statement of its
    policy in template.yaml, and a line of the README reference (a test keeps them in step)."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]  # ARN patterns, as the template's !Sub writes them
    why: str = ""
    # A statement made from a stack parameter: the template's Condition that grants it (it is
    # !If [when, statement, AWS::NoValue]), its Resource expression (instead of !Sub of
    # `resources`, which then only describe it) and its IAM Condition.
    when: str = ""
    resource: Any = None
    condition: Mapping[str, Any] | None = None


class ResourceType(NamedTuple):
    """Everything the provider knows about one custom resource type."""

    type_name: str  # Custom::EmailIdentity
    native_type: str  # AWS::SES::EmailIdentity, whose property names we mirror
    arn_kind: str  # identity, configuration-set, dedicated-ip-pool
    name_property: str  # the property that holds the SES name (the physical id)
    name_pattern: str  # a valid SES name; anything else is never a resource of ours
    properties: Object
    actions: tuple[str, ...]  # IAM actions the module calls, for the function's policy
    attributes: Mapping[str, str]  # Fn::GetAtt name -> description
    # What `Ref` returns, for the README: "the <name_property>" unless given (a name such as
    # ReportId, or a `code` pattern).
    ref: str = ""
    # False for a resource that SES cannot tag (no ARN, no TagResource): no tag properties,
    # no tag sync; its desired-state record, which only claims it, is keyed by record_key().
    taggable: bool = True
    # How the properties name the resource; None: the physical id is name_property's value.
    naming: Identity | None = None
    # Actions on other services than SES (Route 53 for EmailIdentity's DNS records).
    grants: tuple[Grant, ...] = ()
    # How the live resource is compared with the declared properties (Rule above; ses_provider.drift).
    comparison: tuple[Rule, ...] = ()

    @property
    def identity(self) -> Identity:
        return self.naming or Identity(self.name_property)

    def record_key(self, arns: Any, physical_id: str) -> str:
        """The key of the resource's desired-state record: its ARN, for a taggable type."""
        return state_table.record_key(self, arns, physical_id)

    def coerce(self, raw: Mapping[str, Any] | None) -> dict:
        if raw is not None and not isinstance(raw, Mapping):
            raise InvalidProperty("Properties", f"must be an object, got {type(raw).__name__}")
        return self.properties.coerce(dict(raw or {}), "", ignore=CLOUDFORMATION_KEYS)

    @property
    def create_only(self) -> tuple[str, ...]:
        return tuple(name for name, spec in self.properties.fields.items() if spec.create_only)

    def replacing_changes(self, old: Mapping, new: Mapping) -> list[str]:
        """The create-only properties whose change needs a new resource."""
        return [
            name
            for name, spec in self.properties.fields.items()
            if spec.create_only and spec.replaces(old.get(name), new.get(name))
        ]

    def is_valid_name(self, name: Any) -> bool:
        return isinstance(name, str) and re.fullmatch(self.name_pattern, name) is not None
