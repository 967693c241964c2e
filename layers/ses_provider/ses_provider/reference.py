"""Renders the README's property and attribute reference from the schemas.

`python -m ses_provider.reference README.md` rewrites the block between the markers; a test
fails when the README and the schemas disagree. Not used at run time.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import configuration_set, configuration_set_event_destination, dedicated_ip_pool, deliverability_test_report, email_identity
from .schema import CASE, DECLARED_KEYS, DEFAULT, JSON_TEXT, NOT_COMPARED, SPELLING, UNORDERED, Array, Boolean, Field, Integer, JsonObject, Map, Object, Rule, String

MODULES = (email_identity, configuration_set, dedicated_ip_pool, configuration_set_event_destination, deliverability_test_report)
START, END = "<!-- reference:start -->", "<!-- reference:end -->"


def _type(spec: Field) -> str:
    if isinstance(spec, String) and spec.enum:
        return " \\| ".join(f"`{value}`" for value in spec.enum)
    if isinstance(spec, Integer):
        if spec.minimum is not None and spec.maximum is not None:
            return f"Integer {spec.minimum}–{spec.maximum}"
        return f"Integer ≥ {spec.minimum}" if spec.minimum is not None else "Integer"
    if isinstance(spec, Array):
        if isinstance(spec.items, Object):
            return "List of Tag" if _is_tag(spec.items) else "List of Object"
        return f"List of {_type(spec.items)}"
    if isinstance(spec, Map):
        return f"Map of {_type(spec.keys)} to {_type(spec.values)}"
    if isinstance(spec, JsonObject):
        return "JSON object or its text"
    if isinstance(spec, String) and spec.pattern and len(spec.pattern) <= 24:
        return f"String `{spec.pattern}`"
    return {String: "String", Boolean: "Boolean", Object: "Object"}[type(spec)]


def _is_tag(spec: Object) -> bool:
    return set(spec.fields) == {"Key", "Value"}


def _update(spec: Field) -> str:
    if callable(spec.create_only):
        return "Some changes replace"
    return "Replacement" if spec.create_only else "In place"


def _rows(fields, prefix=""):
    for name, spec in fields.items():
        path = f"{prefix}{name}"
        required = "Yes" if spec.required else "No"
        doc = spec.doc + (f" Default `{spec.default}`." if spec.default is not None else "")
        yield f"| `{path}` | {_type(spec)} | {required} | {_update(spec) if not prefix else ''} | {doc.strip()} |"
        if isinstance(spec, Object):
            yield from _rows(spec.fields, f"{path}.")
        elif isinstance(spec, Array) and isinstance(spec.items, Object) and not _is_tag(spec.items):
            yield from _rows(spec.items.fields, f"{path}[].")


def _rule(rule: Rule) -> str:
    """What a comparison rule (ses_provider.drift) says, in words."""
    if rule.kind == DEFAULT:
        return f"omitted, declared or reported, is `{str(rule.value).lower() if isinstance(rule.value, bool) else rule.value}`"
    if rule.kind == SPELLING:
        return "read as SES v2 spells it: " + ", ".join(f"`{a}` = `{b}`" for a, b in rule.value.items() if a != b)
    return {
        UNORDERED: "order and repeats are no change",
        CASE: "case is no change",
        JSON_TEXT: "compared as parsed JSON",
        DECLARED_KEYS: "only the declared entries are compared",
        NOT_COMPARED: "not compared",
    }[rule.kind]


def _drift(module) -> list[str]:
    if not module.HANDLER.DRIFTS:
        return ["Drift: not compared. A test report is one-shot: nothing it declares can change in SES."]
    return [
        "Drift ([python -m tools.drift](operations.md#drift)): each declared property is compared with what SES"
        " reports, but for these rules:",
        "",
        "| Property | Rule | Why |",
        "|---|---|---|",
        *(f"| `{rule.path}` | {_rule(rule)} | {rule.why} |" for rule in module.TYPE.comparison),
    ]


def render() -> str:
    out = [START]
    for module in MODULES:
        kind = module.TYPE
        out += [
            "",
            f"### `{kind.type_name}`",
            "",
            (f"Drop-in for `{kind.native_type}`. " if kind.native_type else "No native CloudFormation type. ")
            + f"`Ref` returns {kind.ref if kind.ref.startswith('`') else 'the ' + (kind.ref or kind.name_property)}."
            + ("" if kind.taggable else " SES cannot tag it: it takes no `Tags`, `PropagateStackTags` or `TagDriftRepair`."),
            "",
            "| Property | Type | Required | Update | Description |",
            "|---|---|---|---|---|",
            *_rows(kind.properties.fields),
            "",
            "| `Fn::GetAtt` | Value |",
            "|---|---|",
            *(f"| `{name}` | {text} |" for name, text in kind.attributes.items()),
            "",
            "IAM actions of its function: " + ", ".join(f"`{action}`" for action in kind.actions) + "."
            + "".join(
                f" With {grant.why}: " + ", ".join(f"`{action}`" for action in grant.actions)
                + " on " + ", ".join(f"`{resource}`" for resource in grant.resources) + "."
                for grant in kind.grants
            ),
            "",
            *_drift(module),
        ]
    out += ["", END]
    return "\n".join(out)


def rewrite(path: Path) -> None:
    text = path.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(head + render() + tail)


if __name__ == "__main__":  # pragma: no cover
    rewrite(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[3] / "docs" / "reference.md")
