"""ses_provider.drift, the pure comparison of declared and live properties, and the rules each
type declares (TYPE.comparison): properties of drift on values generated from the schemas, and
one test per kind of rule. The reads and the report are tests/test_drift_report.py's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ses_provider import drift, reference
from ses_provider.drift import Difference, drift as compare
from ses_provider.schema import (
    CASE, DECLARED_KEYS, DEFAULT, JSON_TEXT, NOT_COMPARED, SPELLING, UNORDERED, Array, Boolean, Field, Integer, JsonObject, Map,
    Object, Rule, String,
)

DRIFTING = [module for module in reference.MODULES if module.HANDLER.DRIFTS]
NAMES = st.text(alphabet="abcXYZ019-", min_size=1, max_size=6)


# --- values of a schema, and what SES may report of them ----------------------------------------


def values(spec: Field) -> st.SearchStrategy:
    """Coerced values of `spec` (exclusive groups and patterns aside: drift does not care)."""
    if isinstance(spec, String):
        return st.sampled_from(spec.enum) if spec.enum else NAMES
    if isinstance(spec, Boolean):
        return st.booleans()
    if isinstance(spec, Integer):
        return st.integers(spec.minimum or 0, spec.maximum or 10**6)
    if isinstance(spec, Array):
        return st.lists(values(spec.items), max_size=3)
    if isinstance(spec, Map):
        return st.dictionaries(NAMES, values(spec.values), max_size=2)
    if isinstance(spec, JsonObject):
        return st.dictionaries(NAMES, st.one_of(st.integers(), NAMES, st.booleans(), st.lists(NAMES, max_size=2)), min_size=1, max_size=3)
    assert isinstance(spec, Object)
    return st.fixed_dictionaries({}, optional={name: values(field) for name, field in spec.fields.items()})


def declared(module) -> st.SearchStrategy:
    """What a record of the type keeps: coerced properties, secrets left out."""
    return values(module.TYPE.properties).map(module.TYPE.properties.without_secrets)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def rules_at(rules, rule_path: str) -> dict[str, Rule]:
    return {rule.kind: rule for rule in rules if rule.path == rule_path}


@st.composite
def ses_form(draw, value: Any, rules, rule_path: str = "") -> Any:
    """`value` as SES may report it without a change, by the rules: defaults omitted or
    reported, unordered lists reordered and repeated, case changed, SES's spelling, JSON as
    text, undeclared map entries and members that SES adds."""
    kinds = rules_at(rules, rule_path)
    if NOT_COMPARED in kinds:
        return draw(st.sampled_from([None, "anything else", value]))
    if JSON_TEXT in kinds:
        return json.dumps(value, indent=draw(st.sampled_from([None, 2])), sort_keys=draw(st.booleans()))
    if isinstance(value, dict):
        is_map = DECLARED_KEYS in kinds
        live = {}
        for name, item in value.items():
            member = _join(rule_path, "*" if is_map else name)
            member_kinds = rules_at(rules, member)
            if DEFAULT in member_kinds and item == member_kinds[DEFAULT].value and draw(st.booleans()):
                continue  # SES omits its default
            live[name] = draw(ses_form(item, rules, member))
        for rule in rules:  # SES reports its default for a member the template omits
            parent, _, name = rule.path.rpartition(".")
            if rule.kind == DEFAULT and parent == rule_path and name not in value and draw(st.booleans()):
                live[name] = rule.value
        live[draw(st.sampled_from(["SesAddsThis", "LastFreshStart"]))] = draw(NAMES)  # reported, not declared
        return live
    if isinstance(value, list):
        items = [draw(ses_form(item, rules, f"{rule_path}[]")) for item in value]
        if UNORDERED in kinds and items:
            items = draw(st.permutations(items)) + draw(st.lists(st.sampled_from(items), max_size=2))
        spelling = kinds[SPELLING].value if SPELLING in kinds else {}
        return [spelling.get(item, item) if isinstance(item, str) else item for item in items]
    if isinstance(value, str):
        if SPELLING in kinds:
            value = kinds[SPELLING].value.get(value, value)
        if CASE in kinds:
            value = draw(st.sampled_from([value, value.upper(), value.swapcase()]))
    return value


def leaves(value: Any, rules, path: str = "", rule_path: str = ""):
    """(path, rule path) of every compared leaf of a declared value."""
    kinds = rules_at(rules, rule_path)
    if NOT_COMPARED in kinds:
        return
    if isinstance(value, dict) and JSON_TEXT not in kinds:
        is_map = DECLARED_KEYS in kinds
        for name, item in value.items():
            yield from leaves(item, rules, _join(path, name), _join(rule_path, "*" if is_map else name))
    elif isinstance(value, list) and UNORDERED not in kinds and any(isinstance(item, dict) for item in value):
        for index, item in enumerate(value):
            yield from leaves(item, rules, f"{path}[{index}]", f"{rule_path}[]")
    else:
        yield path, rule_path


def changed(value: Any) -> Any:
    """A value that no rule makes equal to `value`."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "-changed"
    if isinstance(value, list):
        return [*value, "a-new-item"]
    if isinstance(value, dict):
        return {**value, "NewKey": 1}
    raise AssertionError(value)


def replaced(value: Any, path: str, new: Any) -> Any:
    """`value` with the leaf at `path` (a.b[0].c) replaced by `new`."""
    head, _, rest = path.partition(".")
    name, _, index = head.partition("[")
    copy = dict(value)
    if index:
        items = list(copy[name])
        position = int(index.rstrip("]"))
        items[position] = replaced(items[position], rest, new) if rest else new
        copy[name] = items
    else:
        copy[name] = replaced(copy[name], rest, new) if rest else new
    return copy


# --- the properties --------------------------------------------------------------------------------


@pytest.mark.parametrize("module", DRIFTING, ids=lambda module: module.TYPE.type_name)
@given(data=st.data())
def test_declared_properties_never_drift_from_themselves(module, data):
    value = data.draw(declared(module))
    assert compare(value, value, module.TYPE.comparison) == []


@pytest.mark.parametrize("module", DRIFTING, ids=lambda module: module.TYPE.type_name)
@given(data=st.data())
def test_no_form_in_which_ses_reports_the_declared_values_is_drift(module, data):
    value = data.draw(declared(module))
    live = data.draw(ses_form(value, module.TYPE.comparison))
    assert compare(value, live, module.TYPE.comparison) == []


@pytest.mark.parametrize("module", DRIFTING, ids=lambda module: module.TYPE.type_name)
@given(data=st.data())
def test_a_changed_leaf_is_reported_at_its_path_and_nothing_else(module, data):
    rules = module.TYPE.comparison
    value = data.draw(declared(module))
    compared = list(leaves(value, rules))
    if not compared:
        return
    path, _ = data.draw(st.sampled_from(compared))
    old = _at(value, path)
    live = replaced(value, path, changed(old))
    assert [(d.path, d.declared) for d in compare(value, live, rules)] == [(path, old)]


def _at(value: Any, path: str) -> Any:
    for part in path.replace("[", ".[").split("."):
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]
    return value


def test_a_resource_that_is_gone_or_a_record_without_properties_is_said_so():
    assert drift.verdict({"ScalingMode": "STANDARD"}, None) == drift.Verdict(drift.GONE)
    assert drift.verdict(None, {"ScalingMode": "STANDARD"}) == drift.Verdict(drift.UNKNOWN)
    assert drift.verdict({"ScalingMode": "STANDARD"}, {"ScalingMode": "MANAGED"}) == drift.Verdict(
        drift.DRIFTED, (Difference("ScalingMode", "STANDARD", "MANAGED"),)
    )


# --- the rules, one kind at a time ------------------------------------------------------------------


def test_default_an_omitted_member_is_ses_default_on_either_side_and_a_group_left_out_is_not_compared():
    rules = (Rule("SendingOptions.SendingEnabled", DEFAULT, True),)
    assert compare({"SendingOptions": {}}, {"SendingOptions": {"SendingEnabled": True}}, rules) == []
    assert compare({"SendingOptions": {"SendingEnabled": True}}, {}, rules) == []
    assert compare({"SendingOptions": {}}, {"SendingOptions": {"SendingEnabled": False}}, rules) == [
        Difference("SendingOptions.SendingEnabled", True, False)
    ]
    assert compare({}, {"SendingOptions": {"SendingEnabled": False}}, rules) == []  # only what is declared


def test_unordered_order_and_repeats_are_no_change_but_another_member_is():
    rules = (Rule("Reasons", UNORDERED),)
    assert compare({"Reasons": ["BOUNCE", "COMPLAINT"]}, {"Reasons": ["COMPLAINT", "BOUNCE", "BOUNCE"]}, rules) == []
    assert compare({"Reasons": ["BOUNCE", "COMPLAINT"]}, {"Reasons": ["BOUNCE"]}, rules) == [
        Difference("Reasons", ["BOUNCE", "COMPLAINT"], ["BOUNCE"])
    ]
    assert compare({"Reasons": ["A", "B"]}, {"Reasons": ["B", "A"]}, ()) != []  # without the rule, order counts


def test_case_a_domain_in_another_case_is_the_same_domain():
    rules = (Rule("Mail.Domain", CASE),)
    assert compare({"Mail": {"Domain": "mail.Example.com"}}, {"Mail": {"Domain": "MAIL.example.COM"}}, rules) == []
    assert compare({"Mail": {"Domain": "mail.example.com"}}, {"Mail": {"Domain": "bounce.example.com"}}, rules) != []
    assert compare({"Mail": {"Domain": "a"}}, {"Mail": {"Domain": "A"}}, ()) != []


def test_spelling_the_native_spelling_is_ses_v2s_and_the_diff_shows_both_as_they_are():
    rules = (Rule("Types", SPELLING, {"send": "SEND", "renderingFailure": "RENDERING_FAILURE"}), Rule("Types", UNORDERED))
    assert compare({"Types": ["send", "renderingFailure"]}, {"Types": ["RENDERING_FAILURE", "SEND"]}, rules) == []
    assert compare({"Types": ["send"]}, {"Types": ["RENDERING_FAILURE"]}, rules) == [Difference("Types", ["send"], ["RENDERING_FAILURE"])]


def test_json_text_a_document_is_compared_parsed_and_whole():
    rules = (Rule("Policies", DECLARED_KEYS), Rule("Policies.*", JSON_TEXT))
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}
    text = json.dumps(document, indent=4, sort_keys=True)
    assert compare({"Policies": {"p": document}}, {"Policies": {"p": text}}, rules) == []
    grown = json.dumps({**document, "Id": "added by hand"})  # a member added to the document is a change
    assert compare({"Policies": {"p": document}}, {"Policies": {"p": grown}}, rules) == [
        Difference("Policies.p", document, {**document, "Id": "added by hand"})
    ]
    assert compare({"Policies": {"p": document}}, {"Policies": {"p": "not json"}}, rules) != []


def test_declared_keys_entries_set_outside_the_stack_are_no_drift_a_declared_one_removed_is():
    rules = (Rule("Policies", DECLARED_KEYS), Rule("Policies.*", JSON_TEXT))
    assert compare({"Policies": {"p": {"a": 1}}}, {"Policies": {"p": '{"a":1}', "someone-elses": "{}"}}, rules) == []
    assert compare({"Policies": {"p": {"a": 1}}}, {"Policies": {}}, rules) == [Difference("Policies.p", {"a": 1}, None)]


def test_not_compared_a_property_so_marked_is_never_compared_whatever_it_holds():
    rules = (Rule("Signing.Key", NOT_COMPARED),)
    assert compare({"Signing": {"Key": "k", "Selector": "s"}}, {"Signing": {"Selector": "s"}}, rules) == []
    assert compare({"Signing": {"Key": "k", "Selector": "s"}}, {"Signing": {"Selector": "t"}}, rules) == [Difference("Signing.Selector", "s", "t")]


def test_a_boolean_is_not_a_number():
    assert compare({"Enabled": True}, {"Enabled": 1}, ()) == [Difference("Enabled", True, 1)]


def test_a_list_of_objects_is_compared_item_by_item_and_one_of_another_length_whole():
    declared_ = {"Dimensions": [{"Name": "a", "Source": "messageTag"}, {"Name": "b", "Source": "EMAIL_HEADER"}]}
    rules = (Rule("Dimensions[].Source", SPELLING, {"messageTag": "MESSAGE_TAG"}),)
    live = {"Dimensions": [{"Name": "a", "Source": "MESSAGE_TAG"}, {"Name": "c", "Source": "EMAIL_HEADER"}]}
    assert compare(declared_, live, rules) == [Difference("Dimensions[1].Name", "b", "c")]
    assert [d.path for d in compare(declared_, {"Dimensions": live["Dimensions"][:1]}, rules)] == ["Dimensions"]


# --- the rules as declared -----------------------------------------------------------------------


def _schema_at(spec: Field, path: str) -> Field | None:
    for part in path.split("."):
        array = part.endswith("[]")
        part = part.removesuffix("[]")
        if isinstance(spec, Map) and part == "*":
            spec = spec.values
        elif isinstance(spec, Object) and part in spec.fields:
            spec = spec.fields[part]
        else:
            return None
        if array:
            if not isinstance(spec, Array):
                return None
            spec = spec.items
    return spec


RULES = [(module.TYPE.type_name, rule) for module in DRIFTING for rule in module.TYPE.comparison]


@pytest.mark.parametrize("type_name, rule", RULES, ids=[f"{name}:{rule.path}:{rule.kind}" for name, rule in RULES])
def test_every_rule_names_a_property_of_its_type_and_says_why(type_name, rule):
    (module,) = [module for module in DRIFTING if module.TYPE.type_name == type_name]
    spec = _schema_at(module.TYPE.properties, rule.path)
    assert spec is not None, f"{rule.path} is no property of {type_name}"
    assert rule.why
    if rule.kind == DEFAULT:
        assert spec.coerce(rule.value, rule.path) == rule.value  # a value the property takes
    if rule.kind in (UNORDERED,):
        assert isinstance(spec, Array)
    if rule.kind == DECLARED_KEYS:
        assert isinstance(spec, Map)


@pytest.mark.parametrize("module", DRIFTING, ids=lambda module: module.TYPE.type_name)
def test_every_secret_and_every_name_of_a_type_is_never_compared(module):
    not_compared = {rule.path.rsplit(".", 1)[-1] for rule in module.TYPE.comparison if rule.kind == NOT_COMPARED}
    assert module.TYPE.properties.secret_names() <= not_compared
    assert set(module.TYPE.identity.properties) - {"EventDestination"} <= not_compared  # its Name is, below
    if module.TYPE.naming is not None:
        assert "EventDestination.Name" in {rule.path for rule in module.TYPE.comparison if rule.kind == NOT_COMPARED}


def test_a_test_report_has_nothing_to_drift_and_is_not_read():
    from ses_provider import deliverability_test_report

    verdict = drift.check(deliverability_test_report.HANDLER, "report-1", {"ReportName": "x"}, client=None)
    assert verdict == drift.Verdict(drift.NOT_COMPARED_TYPE)
