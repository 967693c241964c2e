"""The CloudTrail event of an SES v2 call, as EventBridge delivers it to TagSync (template.yaml's
rule: detail-type "AWS API Call via CloudTrail", source aws.ses), for a call made here by hand.

The shape is events/tag_sync/configuration_set_put_sending_options.json's (a real event's
fields); what differs per call is set here: the operation, its request parameters in
CloudTrail's lower camel case, fresh ids and times, the fake account and region.
"""

from __future__ import annotations

import copy
import datetime
import json
import uuid
from typing import Any

from tools.local import REPO
from tools.local.aws import ACCOUNT, REGION

TEMPLATE = REPO / "events" / "tag_sync" / "configuration_set_put_sending_options.json"
_template: dict | None = None


def camel(value: Any) -> Any:
    """SES v2's member names (boto3's spelling) as CloudTrail records them: lower camel case."""
    if isinstance(value, dict):
        return {key[0].lower() + key[1:]: camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [camel(item) for item in value]
    return value


def api_call_event(operation: str, parameters: dict[str, Any]) -> dict:
    """The EventBridge event of `operation` (e.g. "PutConfigurationSetSendingOptions") made with
    boto3's `parameters` in the local account and region."""
    global _template
    if _template is None:
        _template = json.loads(TEMPLATE.read_text())
    event = copy.deepcopy(_template)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    event.update(id=str(uuid.uuid4()), time=now, account=ACCOUNT, region=REGION)
    event["detail"].update(
        eventName=operation, requestParameters=camel(parameters), eventTime=now, awsRegion=REGION,
        recipientAccountId=ACCOUNT, eventID=str(uuid.uuid4()), requestID=str(uuid.uuid4()),
    )
    return event
