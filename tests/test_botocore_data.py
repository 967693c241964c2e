"""The botocore data the layer's session loads (ses_provider/botocore_data, tools/botocore_data.py):
what the generator writes now, nothing else read, and the same endpoints and signing as
botocore's own data in every region of every partition.

Every other test that goes through the provider's clients runs on this data too: an
operation the code calls that the template's policies do not allow is missing from it, and
fails there as IAM would refuse it in AWS."""

from __future__ import annotations

import json
from pathlib import Path

import botocore.session
import pytest

from ses_provider import client as client_module
from tools import botocore_data

DATA = Path(client_module.DATA)
# One call per service, enough to resolve the endpoint and sign the request.
CALLS = {
    "sesv2": ("list_tags_for_resource", {"ResourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com"}),
    "dynamodb": ("get_item", {"TableName": "table", "Key": {"Arn": {"S": "x"}}}),
    "cloudformation": ("describe_stacks", {"StackName": "stack"}),
    "route53": ("get_change", {"Id": "C123"}),
    "sqs": ("send_message", {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "MessageBody": "x"}),
}


class Sent(Exception):
    pass


def _sent(client, operation, params) -> tuple[str, str]:
    """(URL, the signature's credential scope) of the request `client` would send."""

    def stop(request, **kwargs):
        authorization = request.headers["Authorization"]
        raise Sent(request.url, authorization.decode() if isinstance(authorization, bytes) else authorization)

    client.meta.events.register("before-send", stop)
    with pytest.raises(Sent) as sent:
        getattr(client, operation)(**params)
    url, authorization = sent.value.args
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/", 1)[1]  # date/region/service/aws4_request
    return url, scope.split("/", 1)[1]


def test_the_committed_data_is_what_the_generator_writes_from_the_template_and_the_pinned_botocore(tmp_path):
    botocore_data.write(tmp_path)
    committed = {path.relative_to(DATA): path.read_bytes() for path in DATA.rglob("*") if path.is_file()}
    written = {path.relative_to(tmp_path): path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    assert committed.keys() == written.keys(), "run `python -m tools.botocore_data`"
    assert [name for name in written if committed[name] != written[name]] == [], "run `python -m tools.botocore_data`"


def test_the_models_hold_exactly_the_operations_the_template_allows_with_their_whole_shapes():
    allowed = botocore_data.allowed_operations(botocore_data.TEMPLATE.read_text())
    full = botocore.session.get_session()
    for service, operations in allowed.items():
        ours = client_module.session().get_service_model(service)
        assert set(ours.operation_names) == operations
        theirs = full.get_service_model(service)
        for name in operations:
            for part in ("input_shape", "output_shape"):
                mine, real = getattr(ours.operation_model(name), part), getattr(theirs.operation_model(name), part)
                assert (mine and json.dumps(_members(mine), sort_keys=True)) == (real and json.dumps(_members(real), sort_keys=True))


def _members(shape, seen=None):
    seen = set() if seen is None else seen
    if shape.name in seen:
        return shape.name
    seen = seen | {shape.name}
    children = {}
    if shape.type_name == "structure":
        children = {name: _members(member, seen) for name, member in shape.members.items()}
    elif shape.type_name == "list":
        children = {"member": _members(shape.member, seen)}
    elif shape.type_name == "map":
        children = {"key": _members(shape.key, seen), "value": _members(shape.value, seen)}
    return {"type": shape.type_name, "serialization": shape.serialization, "metadata": shape.metadata, **children}


def test_the_layers_session_reads_only_its_own_data_folder():
    loader = client_module.session().get_component("data_loader")
    assert loader.search_paths == [client_module.DATA]
    assert loader.is_builtin_path(client_module.DATA)  # endpoints resolve as from botocore's own folder


def _regions() -> list[tuple[str, str]]:
    endpoints = json.loads((DATA / "endpoints.json").read_text())
    return [(partition["partition"], region) for partition in endpoints["partitions"] for region in partition["regions"]]


@pytest.mark.parametrize("service", sorted(CALLS))
def test_every_region_of_every_partition_resolves_and_signs_as_with_botocores_own_data(service, monkeypatch):
    for name in ("AWS_ENDPOINT_URL", f"AWS_ENDPOINT_URL_{service.upper()}", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    ours, theirs = botocore.session.get_session(), botocore.session.get_session()
    ours.register_component("data_loader", client_module.session().get_component("data_loader"))
    operation, params = CALLS[service]
    compared = 0
    for partition, region in _regions():
        expected = _sent(theirs.create_client(service, region_name=region), operation, params)
        assert _sent(ours.create_client(service, region_name=region), operation, params) == expected, (partition, region)
        compared += 1
    assert compared >= 30  # aws alone has more regions than that
