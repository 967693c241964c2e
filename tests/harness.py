"""The tests' view of tools/local/, where the local stand-ins for AWS live (moto's server with
its fidelity patches, the CloudFormation response endpoint, the in-process invoker, the local
environment of the examples): the tools and the demo use them too, and must not import tests/.
Re-exported here so that a test imports them from one place; below, what only tests use.
"""

from __future__ import annotations

from tools.local import REPO
from tools.local.aws import ACCOUNT, FAKE_AWS_ENVIRONMENT, REGION, arn, aws_client, environment, logs_of, ses_client
from tools.local.invoker import (
    DEPLOYING,
    EVENTS,
    FUNCTION_NAMES,
    FUNCTIONS,
    STACK_NAME,
    STACK_TAGS,
    STACK_TEMPLATE,
    TABLE,
    Invocation,
    Invoker,
    LocalEnvironment,
    Queue,
    anew,
    create_stack,
    create_stack_and_table,
    load_event,
    local_environment,
    set_stack_status,
)
from tools.local.servers import CapturedResponse, ResponseEndpoint, reset_ses, serving, ses_server

__all__ = [
    "ACCOUNT", "DEPLOYING", "EVENTS", "FAKE_AWS_ENVIRONMENT", "FUNCTIONS", "FUNCTION_NAMES", "REGION", "REPO",
    "STACK_NAME", "STACK_TAGS", "STACK_TEMPLATE", "TABLE", "CapturedResponse", "Invocation", "Invoker",
    "LocalEnvironment", "Queue", "ResponseEndpoint", "anew", "arn", "aws_client", "create_stack",
    "create_stack_and_table", "environment", "live_tags", "load_event", "local_environment", "logs_of",
    "reset_ses", "serving", "ses_client", "ses_server", "set_stack_status",
]


def live_tags(client, resource_arn: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in client.list_tags_for_resource(ResourceArn=resource_arn)["Tags"]}
