"""The CloudFormation stacks that requests name: whether one is being changed, and its tags.

CloudFormation hands a custom resource neither: DescribeStacks tells both (protocol.delivery: the stack
must be in an operation for its request to be acted on; TagSync and PropagateStackTags: the
stack's tags).
"""

from __future__ import annotations

from typing import Mapping, NamedTuple

from .client import QUICK_CONFIG, make_service_client

# The statuses in which CloudFormation creates, updates or deletes a stack's resources, and so
# sends its custom resources their requests (botocore's StackStatus enum). Not REVIEW_IN_PROGRESS
# (a change set not yet run) nor the IMPORT_ ones (an import never calls a custom resource).
IN_OPERATION = frozenset(
    {
        "CREATE_IN_PROGRESS",
        "ROLLBACK_IN_PROGRESS",
        "DELETE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    }
)


def stack_name(stack_id: str) -> str:
    """The name in a stack's id (arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>)."""
    return stack_id.split("/")[1] if stack_id.count("/") >= 2 else stack_id


def cloudformation_client():
    """The client that reads stacks (AWS_ENDPOINT_URL applies)."""
    return make_service_client("cloudformation", QUICK_CONFIG)


class Stack(NamedTuple):
    """What DescribeStacks tells of the stack a request names; status "" when it does not exist."""

    status: str
    tags: Mapping[str, str]

    @property
    def in_operation(self) -> bool:
        return self.status in IN_OPERATION


def read_stack(cloudformation, stack_id: str) -> Stack:
    """The stack's status and its own tags (CloudFormation hands neither to custom resources)."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_id).get("Stacks", [])
    except cloudformation.exceptions.ClientError as error:
        # CloudFormation answers ValidationError "Stack with id ... does not exist".
        if "does not exist" in str(error):
            return Stack("", {})
        raise
    if not stacks:
        return Stack("", {})
    return Stack(stacks[0].get("StackStatus", ""), {tag["Key"]: tag["Value"] for tag in (stacks[0].get("Tags") or [])})


def read_stack_tags(cloudformation, stack_id: str) -> dict[str, str]:
    """The stack's own tags; none for a stack that does not exist."""
    return dict(read_stack(cloudformation, stack_id).tags)
