"""The botocore data the layer loads: `python -m tools.botocore_data` writes
layers/ses_provider/ses_provider/botocore_data/ from the pinned botocore (requirements-dev.txt).

Why: a client's first cost is its data, not its code. botocore parses its 1.2 MB
endpoints.json, lists every one of its ~400 service folders (twice), and parses each service's
whole model (DynamoDB's is 94 kB gzipped) before the first call; a Create builds three
clients (SES v2, DynamoDB, CloudFormation). The layer's session loads only this folder
(ses_provider.client.session), which holds, for the six services the layer's own session
calls, their models cut to the operations that template.yaml's policies allow the functions
(an operation not allowed would be refused by IAM anyway), with every shape those operations
reach; their endpoint rule sets and paginators as botocore ships them; and botocore's
endpoints.json with only those six services. Documentation strings are dropped.

A botocore older than OLDEST_READER does not read it (botocore 1.35.75 knows no `stringArray`
rule-set parameter, which DynamoDB's now has): the session then keeps botocore's own data
(ses_provider.client.reads_data), slower and as correct.

Nothing else changes: the models are botocore's own JSON, cut, not rewritten
(tests/test_botocore_data.py checks that the committed folder is what this writes, and that
every service resolves the same endpoint in every region from it as from botocore's data).
Powertools' own boto3 clients (the BYODKIM key's Secrets Manager and SSM) do not use it.

Run it after changing a policy in template.yaml or the botocore pin.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sys
from pathlib import Path

import botocore

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
TARGET = ROOT / "layers" / "ses_provider" / "ses_provider" / "botocore_data"
SOURCE = Path(botocore.__file__).parent / "data"
# IAM's service prefix -> botocore's service name, for the services the layer's session calls
# (ses_provider.client.make_client, make_service_client): SES v2's actions are `ses:`.
SERVICES = {"ses": "sesv2", "dynamodb": "dynamodb", "cloudformation": "cloudformation", "route53": "route53", "sqs": "sqs", "events": "events"}
# Session-wide files that every client reads (retries, defaults mode, partitions): copied whole.
SESSION_FILES = ("_retry.json", "partitions.json", "sdk-default-configuration.json")
# The oldest botocore that reads this data as the pinned one does: it resolves and signs every
# service in every region alike (tests/test_botocore_data.py installs it and checks). Older
# ones fail DynamoDB's rule set (1.35.75: "Unknown parameter type: stringArray").
OLDEST_READER = "1.35.80"
READER_FILE = "OLDEST_BOTOCORE"  # ses_provider.client.READER_FILE


def allowed_operations(template: str) -> dict[str, set[str]]:
    """The operations per botocore service that the template's policies name."""
    found: dict[str, set[str]] = {service: set() for service in SERVICES.values()}
    # A condition key (route53:ChangeResourceRecordSetsRecordTypes) is a mapping key, followed
    # by ":"; an action never is.
    for prefix, action in re.findall(rf"\b({'|'.join(SERVICES)}):([A-Z][A-Za-z0-9]+)\b(?!:)", template):
        found[SERVICES[prefix]].add(action)
    return found


def _read(path: Path) -> dict:
    data = path.read_bytes()
    return json.loads(gzip.decompress(data) if path.suffix == ".gz" else data)


def _model_file(service: str) -> Path:
    """The newest API version of the service that has a model (botocore's own rule)."""
    versions = sorted(folder for folder in (SOURCE / service).iterdir() if any(folder.glob("service-2.json*")))
    return next(versions[-1].glob("service-2.json*"))


def _undocumented(value):
    if isinstance(value, dict):
        return {key: _undocumented(item) for key, item in value.items() if key not in ("documentation", "documentationUrl")}
    if isinstance(value, list):
        return [_undocumented(item) for item in value]
    return value


def trimmed_model(model: dict, operations: set[str]) -> dict:
    """The model with only `operations` and the shapes they reach (inputs, outputs, errors)."""
    unknown = operations - set(model["operations"])
    if unknown:
        raise SystemExit(f"{model['metadata']['serviceId']}: the template allows unknown operations {sorted(unknown)}")
    shapes, keep, pending = model["shapes"], set(), []
    for name in operations:
        operation = model["operations"][name]
        pending += [operation[part]["shape"] for part in ("input", "output") if part in operation]
        pending += [error["shape"] for error in operation.get("errors", ())]
    while pending:
        name = pending.pop()
        if name in keep:
            continue
        keep.add(name)
        shape = shapes[name]
        pending += [member["shape"] for member in shape.get("members", {}).values()]
        pending += [shape[part]["shape"] for part in ("member", "key", "value") if part in shape]
    return _undocumented(
        {
            **model,
            "operations": {name: model["operations"][name] for name in sorted(operations)},
            "shapes": {name: shapes[name] for name in sorted(keep)},
        }
    )


def trimmed_endpoints(endpoints: dict, services: set[str]) -> dict:
    """endpoints.json with only the endpoint prefixes of `services`, every partition kept."""
    return {
        **endpoints,
        "partitions": [
            {**partition, "services": {name: value for name, value in partition["services"].items() if name in services}}
            for partition in endpoints["partitions"]
        ],
    }


def _write_json(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, separators=(",", ":"), sort_keys=True) + "\n")


def write(target: Path = TARGET, template: str | None = None) -> None:
    operations = allowed_operations(template if template is not None else TEMPLATE.read_text())
    if target.exists():
        shutil.rmtree(target)
    prefixes = set()
    for service, names in sorted(operations.items()):
        source = _model_file(service)
        model = _read(source)
        prefixes.add(model["metadata"]["endpointPrefix"])
        folder = target / service / source.parent.name
        _write_json(folder / "service-2.json", trimmed_model(model, names))
        _write_json(folder / "endpoint-rule-set-1.json", _read(next(source.parent.glob("endpoint-rule-set-1.json*"))))
        paginators = next(source.parent.glob("paginators-1.json*"), None)
        if paginators is not None:
            kept = {name: value for name, value in _read(paginators)["pagination"].items() if name in names}
            if kept:
                _write_json(folder / "paginators-1.json", {"pagination": kept})
    _write_json(target / "endpoints.json", trimmed_endpoints(_read(SOURCE / "endpoints.json"), prefixes))
    for name in SESSION_FILES:
        _write_json(target / name, _read(SOURCE / name))
    (target / READER_FILE).write_text(OLDEST_READER + "\n")  # an older botocore keeps its own data (client.reads_data)
    (target / "README.md").write_text(
        f"Written by `python -m tools.botocore_data` from botocore {botocore.__version__}: do not edit.\n"
        "See that module for why the layer loads this folder instead of botocore's data.\n"
    )


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else TARGET)
    print(f"wrote {TARGET.relative_to(ROOT) if len(sys.argv) == 1 else sys.argv[1]}")
