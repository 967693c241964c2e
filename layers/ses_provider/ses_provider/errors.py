"""One map from SES errors to short reasons that name the resource and the region.

CloudFormation shows only the end of a long reason, so the reasons are short and the
resource comes first.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

_REASONS = {
    "AlreadyExistsException": "already exists; it was not created by this stack and is left untouched",
    "NotFoundException": "was not found",
    "LimitExceededException": "would exceed an SES quota",
    "TooManyRequestsException": "SES kept throttling the request after retries",
    "ConcurrentModificationException": "is being changed by another request; try again",
    "AccessDeniedException": "access denied; check the function's IAM policy",
    "AccountSuspendedException": "the SES account is suspended",
    "SendingPausedException": "sending is paused for this account",
    "MailFromDomainNotVerifiedException": "MAIL FROM domain is not verified",
    "InternalServiceErrorException": "SES had an internal error after retries",
    # Route 53 (identity_dns); InvalidChangeBatch and InvalidInput: its message names the record.
    "NoSuchHostedZone": "no such hosted zone; check HostedZoneId",
    "AccessDenied": "access denied; check the function's IAM policy",
    "PriorRequestNotComplete": "Route 53 is still applying an earlier change; try again",
    "Throttling": "Route 53 kept throttling the request after retries",
}


def error_code(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "")
    return ""


def unless_missing(call, **arguments):
    """The answer of an SES read; None when SES answers NotFoundException (no such resource)."""
    try:
        return call(**arguments)
    except ClientError as error:
        if error_code(error) == "NotFoundException":
            return None
        raise


def reason(error: BaseException, what: str, region: str, service: str = "SES") -> str:
    """`what` names the resource, for example "configuration set orders"."""
    if isinstance(error, ClientError):
        code = error_code(error)
        text = _REASONS.get(code)
        if text is None:
            # BadRequestException and the like: SES's own message says what is wrong.
            message = error.response.get("Error", {}).get("Message") or code or "request failed"
            text = f"{code}: {message}" if code and code not in message else message
        return f"{what} in {region}: {text}"[:256]
    if isinstance(error, BotoCoreError):
        return f"{what} in {region}: could not reach {service} ({type(error).__name__})"[:256]
    return f"{what} in {region}: {type(error).__name__}: {error}"[:256]


class ProviderError(Exception):
    """An answer of FAILED with this reason. `physical_id` is set when a Create made a
    resource before failing, so that CloudFormation's rollback Delete removes it."""

    def __init__(self, reason: str, physical_id: str | None = None, code: str = ""):
        super().__init__(reason)
        self.physical_id = physical_id
        self.code = code  # the SES error code behind it, if any


class PartialCreate(Exception):
    """SES created the resource, then a later call of the same Create failed."""

    def __init__(self, physical_id: str, cause: BaseException):
        super().__init__(str(cause))
        self.physical_id = physical_id
        self.cause = cause


def describe(resource, name: str) -> str:
    """"DedicatedIpPool bulk": how reasons name a resource of a type."""
    return f"{resource.TYPE.type_name.split('::')[-1]} {name}"


def ses_failure(resource, name: str, request, error: BaseException, physical_id: str | None = None) -> ProviderError:
    """An SES error as FAILED, its reason naming the resource and the region."""
    return ProviderError(reason(error, describe(resource, name), request.arns.region), physical_id, error_code(error))
