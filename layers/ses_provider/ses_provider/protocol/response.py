"""The answer CloudFormation receives: its body (within CloudFormation's limits) and the PUT to
the event's pre-signed ResponseURL. A function of the event and the answer; the Delivery decides
which answer, and when."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..contract import Done, Failed
from .journal import Answer
from ..limits import MAX_REASON, MAX_RESPONSE_BYTES
from .events import echoed, logger, redact_url

SUCCESS, FAILED = "SUCCESS", "FAILED"
ECHOED = ("PhysicalResourceId", "StackId", "RequestId", "LogicalResourceId")
PUT_ATTEMPTS = 5
PUT_ATTEMPT_TIMEOUT = 10.0


def shorten(reason: str) -> str:
    """CloudFormation shows at most 256 characters of a reason... and rejects nothing longer
    only by accident: keep the start, which names the resource."""
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 3] + "..."


def body(event: dict, answer: Answer) -> dict:
    return {
        "Status": answer.status,
        "Reason": answer.reason,
        "PhysicalResourceId": answer.physical_id,
        "StackId": echoed(event.get("StackId", "")),
        "RequestId": echoed(event.get("RequestId", "")),
        "LogicalResourceId": echoed(event.get("LogicalResourceId", "")),
        "Data": dict(answer.data),
    }


def within_limits(event: dict, answer: Answer) -> Answer:
    """The answer as CloudFormation can take it: a reason of at most 256 characters, no Data
    unless SUCCESS, and FAILED instead of a body over 4,096 bytes."""
    answer = Answer(answer.status, shorten(str(answer.reason or "")), str(answer.physical_id), answer.data)
    if answer.status != SUCCESS:
        answer = Answer(answer.status, answer.reason, answer.physical_id, {})
    size = len(json.dumps(body(event, answer)).encode())
    if size > MAX_RESPONSE_BYTES:
        answer = Answer(FAILED, f"the response would be {size} bytes; CloudFormation accepts at most {MAX_RESPONSE_BYTES}", answer.physical_id)
    return answer


def put_response(url: str, content: bytes, deadline: float) -> bool:
    """PUT the response to the pre-signed URL: retry 5xx and network errors with backoff,
    never past `deadline` (a time.monotonic() value); a 4xx is final (the URL is bad or expired)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        logger.error("the ResponseURL is not an https URL: cannot answer")
        return False
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    for attempt in range(PUT_ATTEMPTS):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        connection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=min(PUT_ATTEMPT_TIMEOUT, remaining), context=ssl.create_default_context()
        )
        try:
            # CloudFormation's pre-signed S3 URL was signed with an empty content type.
            connection.request("PUT", path, body=content, headers={"Content-Type": "", "Content-Length": str(len(content))})
            status = connection.getresponse().status
            if 200 <= status < 300:
                return True
            logger.warning("response endpoint answered HTTP %s (attempt %d)", status, attempt + 1)
            if 400 <= status < 500:
                return False
        except ssl.SSLCertVerificationError:
            logger.error("the response endpoint's certificate is not trusted")
            return False  # not transient: retrying cannot help
        except (OSError, http.client.HTTPException) as error:
            logger.warning("response endpoint unreachable (attempt %d): %s", attempt + 1, type(error).__name__)
        finally:
            connection.close()
        if attempt + 1 < PUT_ATTEMPTS:
            time.sleep(max(0.0, min(0.2 * 2**attempt, deadline - time.monotonic())))
    logger.error("could not deliver the response to CloudFormation")
    return False


def send(event: dict, answer: Answer, deadline: float) -> None:
    """PUT the answer to the event's ResponseURL, logging it without the URL's credentials."""
    # Every answer of the protocol is within limits already; one that is not (journaled by
    # another version, say) would not fit by the cuts below, which shorten only the echoed ids.
    made = body(event, within_limits(event, answer))
    encoded = json.dumps(made).encode()
    while len(encoded) > MAX_RESPONSE_BYTES:
        # Only an event that CloudFormation could never send gets here (ids far beyond its
        # limits): halve the longest echoed field, so that the answer is still well formed.
        longest = max(ECHOED, key=lambda key: len(json.dumps(made[key])))
        if len(made[longest]) <= 1:
            break  # nothing left to cut: CloudFormation refuses the body, but the function ends
        made[longest] = made[longest][: len(made[longest]) // 2]
        encoded = json.dumps(made).encode()
    shown = {k: made[k] for k in ("Status", "Reason", "PhysicalResourceId", "Data")}
    url = event.get("ResponseURL") if isinstance(event.get("ResponseURL"), str) else ""
    logger.info("response", extra={"response": shown, "ResponseURL": redact_url(url)})
    if not url:
        logger.error("the event has no ResponseURL: nowhere to answer")
    elif put_response(url, encoded, deadline):
        return
    if os.environ.get("AWS_SAM_LOCAL") == "true":
        # `sam local invoke` with an example event: its ResponseURL is a placeholder. The
        # answer CloudFormation would have received is printed in full instead of being lost
        # (the body holds no secret: the URL is not part of it).
        print(json.dumps({"UndeliveredResponse": made}, indent=2), flush=True)


def answer_of(outcome: Any) -> Answer:
    """The contract's outcome as CloudFormation's answer (data as strings)."""
    if isinstance(outcome, Done):
        return Answer(SUCCESS, "", outcome.physical_id, {str(k): str(v) for k, v in outcome.data.items()})
    if isinstance(outcome, Failed):
        return Answer(FAILED, outcome.reason, outcome.physical_id)
    raise TypeError(f"no answer for {type(outcome).__name__}")
