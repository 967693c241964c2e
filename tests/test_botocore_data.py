"""The botocore data the layer's session loads (ses_provider/botocore_data, tools/botocore_data.py):
what the generator writes now, nothing else read, and the same endpoints and signing as
botocore's own data in every region of every partition.

Every other test that goes through the provider's clients runs on this data too: an
operation the code calls that the template's policies do not allow is missing from it, and
fails there as IAM would refuse it in AWS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import botocore.session
import pytest

from ses_provider import client as client_module
from tools import botocore_data

DATA = Path(client_module.DATA)
ROOT = Path(__file__).resolve().parent.parent
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


def resolved(session, service: str) -> dict[str, list | str]:
    """Region -> [URL, credential scope] of one signed call, or the error, for `service`."""
    operation, params = CALLS[service]
    found: dict[str, list | str] = {}
    for _, region in _regions():
        try:
            found[region] = list(_sent(session.create_client(service, region_name=region), operation, params))
        except Exception as error:  # noqa: BLE001 - compared, not raised: an old botocore's failure
            found[region] = f"{type(error).__name__}: {error}"[:200]
    return found


def ours() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.register_component("data_loader", client_module.data_loader())
    return session


@pytest.fixture
def credentials(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", *(f"AWS_ENDPOINT_URL_{service.upper()}" for service in CALLS), "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")


@pytest.mark.parametrize("service", sorted(CALLS))
def test_every_region_of_every_partition_resolves_and_signs_as_with_botocores_own_data(service, credentials):
    expected = resolved(botocore.session.get_session(), service)
    assert len(expected) >= 30  # aws alone has more regions than that
    assert all(isinstance(value, list) for value in expected.values())
    assert resolved(ours(), service) == expected


OLDEST_CHECK = """
import json, sys
from tests.test_botocore_data import CALLS, ours, resolved
import botocore
assert botocore.__version__ == sys.argv[1], botocore.__file__
json.dump({service: resolved(ours(), service) for service in CALLS}, sys.stdout)
"""


@pytest.mark.slow
def test_the_oldest_botocore_said_to_read_the_data_resolves_and_signs_as_the_pinned_one(tmp_path, credentials):
    """botocore_data.OLDEST_READER, installed from the package registry, reads the data alike:
    the session trusts it to (client.reads_data), and a botocore pin or policy change that needs
    a newer reader fails here."""
    oldest = botocore_data.OLDEST_READER
    assert (DATA / client_module.READER_FILE).read_text().strip() == oldest
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--target", str(tmp_path), f"botocore=={oldest}"],
        check=True, capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "layers" / "ses_provider"), str(ROOT)])}
    run = subprocess.run([sys.executable, "-c", OLDEST_CHECK, oldest], cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout) == {service: resolved(botocore.session.get_session(), service) for service in CALLS}


def test_a_botocore_older_than_the_oldest_reader_keeps_its_own_data():
    assert client_module.reads_data(botocore_data.OLDEST_READER)
    assert client_module.reads_data(botocore.__version__)
    assert not client_module.reads_data("1.35.75")  # DynamoDB's rule set fails there
    assert not client_module.reads_data("1.34.145")
