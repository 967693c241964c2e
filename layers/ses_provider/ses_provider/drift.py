"""Drift of declared properties: the live resource compared with what its record keeps.

Pure but for `check`, which makes the one read: a type's `read_declared` (ses_provider.contract)
gives the live resource in the form of its declared properties, and `drift` compares the two by
the type's rules (TYPE.comparison, ses_provider.schema.Rule), which say where SES reports a value
otherwise than it was declared without a change: a default, case, order, a spelling, a JSON
text. Only what was declared is compared; what the rules mark NOT_COMPARED (secrets, names,
the provider's own switches, tags, which TagSync converges) never is.

Not imported by the functions (nothing of a request needs it): `python -m tools.drift` and,
later, the reconciler.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, NamedTuple

from .schema import CASE, DECLARED_KEYS, DEFAULT, JSON_TEXT, NOT_COMPARED, SPELLING, UNORDERED, Rule

IN_SYNC = "in sync"
DRIFTED = "drifted"
GONE = "gone"  # SES has no such resource (NotFoundException): deleted by hand
UNKNOWN = "unknown"  # the record keeps no declared properties (an earlier version wrote it)
NOT_COMPARED_TYPE = "not compared"  # a type with nothing to drift (a deliverability test report)
# The outcomes that make `python -m tools.drift` exit non-zero.
FAILING = frozenset({DRIFTED, GONE})


class Difference(NamedTuple):
    """One property that differs: its path (`Group.Leaf`, `List[0].Leaf`, `Map.name`), the declared
    value (a default the rules fill in included) and the live one (None: SES reports none)."""

    path: str
    declared: Any
    live: Any


class Verdict(NamedTuple):
    status: str
    differences: tuple[Difference, ...] = ()


class _Rules:
    """A type's rules by the path they name."""

    def __init__(self, rules: Iterable[Rule]):
        self.by_path: dict[str, dict[str, Rule]] = {}
        for rule in rules:
            self.by_path.setdefault(rule.path, {})[rule.kind] = rule

    def of(self, path: str) -> dict[str, Rule]:
        return self.by_path.get(path, {})

    def defaults_under(self, path: str) -> dict[str, Any]:
        """The members of the object at `path` that have a DEFAULT rule, and their defaults."""
        prefix = f"{path}." if path else ""
        return {
            rule_path[len(prefix):]: kinds[DEFAULT].value
            for rule_path, kinds in self.by_path.items()
            if DEFAULT in kinds and rule_path.startswith(prefix) and "." not in rule_path[len(prefix):] and "[" not in rule_path[len(prefix):]
        }


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def drift(declared: Mapping[str, Any], live: Mapping[str, Any], rules: Iterable[Rule] = ()) -> list[Difference]:
    """The declared properties that the live ones (both in the declared form) do not hold, by
    `rules`; empty when they agree."""
    found: list[Difference] = []
    _object(declared, live, "", "", _Rules(rules), found)
    return found


def _object(declared: Mapping, live: Any, path: str, rule_path: str, rules: _Rules, found: list) -> None:
    live = live if isinstance(live, Mapping) else {}
    is_map = DECLARED_KEYS in rules.of(rule_path)  # a map: its entries share one rule path
    names = list(declared)
    if not is_map:  # members the template omits but whose default SES reports
        names += [name for name in rules.defaults_under(rule_path) if name not in declared]
    for name in names:
        member_rules = _join(rule_path, "*" if is_map else name)
        _value(declared.get(name), live.get(name), _join(path, name), member_rules, rules, found)


def parsed(value: Any) -> Any:
    """What SES holds as JSON text (JSON_TEXT) as its document; anything else (not JSON: it
    differs from any declared document) as it stands."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def _value(declared: Any, live: Any, path: str, rule_path: str, rules: _Rules, found: list) -> None:
    kinds = rules.of(rule_path)
    if NOT_COMPARED in kinds:
        return
    if DEFAULT in kinds:
        default = kinds[DEFAULT].value
        declared = default if declared is None else declared
        live = default if live is None else live
    if JSON_TEXT in kinds:
        live = parsed(live)
    if isinstance(declared, Mapping) and JSON_TEXT not in kinds:
        _object(declared, live, path, rule_path, rules, found)
        return
    if isinstance(declared, list) and UNORDERED not in kinds and any(isinstance(item, Mapping) for item in declared):
        if isinstance(live, list) and len(live) == len(declared):
            for index, (mine, theirs) in enumerate(zip(declared, live)):
                _value(mine, theirs, f"{path}[{index}]", f"{rule_path}[]", rules, found)
            return
    elif _same(declared, live, kinds):
        return
    found.append(Difference(path, declared, live))


def _same(declared: Any, live: Any, kinds: Mapping[str, Rule]) -> bool:
    spelling = kinds.get(SPELLING)

    def read(value: Any) -> Any:
        if isinstance(value, list):
            items = [read(item) for item in value]
            if UNORDERED in kinds:
                return sorted(set(items), key=repr)
            return items
        if spelling is not None and isinstance(value, str):
            value = spelling.value.get(value, value)
        if CASE in kinds and isinstance(value, str):
            value = value.lower()
        return value

    try:
        mine, theirs = read(declared), read(live)
    except TypeError:  # an unhashable item of an unordered list: compared as it stands
        mine, theirs = declared, live
    # True is not 1: a boolean equals only a boolean.
    return mine == theirs and isinstance(mine, bool) == isinstance(theirs, bool)


def verdict(declared: Mapping[str, Any] | None, live: Mapping[str, Any] | None, rules: Iterable[Rule] = ()) -> Verdict:
    """What a record's declared properties (None: unknown) and the live resource (None: gone) say."""
    if declared is None:
        return Verdict(UNKNOWN)
    if live is None:
        return Verdict(GONE)
    differences = drift(declared, live, rules)
    return Verdict(DRIFTED, tuple(differences)) if differences else Verdict(IN_SYNC)


def check(handler: Any, name: str, declared: Mapping[str, Any] | None, client: Any) -> Verdict:
    """One resource: read it (one SES read, none when nothing is known to compare) and compare.
    `handler`: its type (a ResourceHandler); `name`: its physical id; `declared`: what its record
    keeps (Record.properties)."""
    if not handler.DRIFTS:
        return Verdict(NOT_COMPARED_TYPE)
    if declared is None:
        return Verdict(UNKNOWN)
    return verdict(declared, handler.read_declared(name, client), handler.TYPE.comparison)
