"""Custom::DeliverabilityTestReport: an SES v2 predictive inbox placement test.

SES sends the sample message to seed mailboxes of several major mailbox providers and reports
after about a day where it landed. The test needs the account's Deliverability dashboard
subscription, and every test is charged: a second test made by mistake costs money.

Physical id: the `ReportId` that SES chooses. There is no name to claim before the Create,
so crash safety works differently from the other types (decided here, tested by
tests/test_crash_retry.py):

- **The intent** is the request's journal entry (protocol/journal.py), written before the first SES
  call: it records that the request started, when (`StartedAt`) and the `ReportName` it will
  create (its `Intents`). The protocol hands both to the module (`Request.resumed`,
  `Request.started_at`).
- **The ReportName identifies the request.** When the template declares none, the name is
  generated from the stack, the logical id and the RequestId (naming.generate), so a retry
  of the request computes the same name and no other request ever makes it.
- **A resumed delivery looks before it creates.** `ListDeliverabilityTestReports` (which
  returns ReportName, FromEmailAddress, Subject and CreateDate) is searched for a report of
  that name and sender created since the request started, and whose record (if it has one)
  is not another request's: the report that an Update replaces keeps its name and sender
  and is excluded so. The newest match is adopted (its tags converged, its record written),
  not created again. A first delivery makes no such call: nothing of its own can exist yet.
- **A Create that may have reached SES** (a 5xx or a connection error after the request was
  sent) is not retried by botocore for this operation: a retry would be a second, charged
  test. The same search decides whether the call went through; if it did not, the answer is
  FAILED and CloudFormation rolls back (nothing to remove).

What remains: with a declared ReportName, a report of the same name and sender without a
record of this provider, made by someone else between the start of the request (less
CLOCK_SKEW_SECONDS) and its retry, would be taken for this request's own when the crashed
attempt made none. Leave ReportName out to rule that out. Without the desired-state table (a
local run) nothing is adopted, as for the other types.

Update: a change of Tags, PropagateStackTags or TagDriftRepair alone is synced in place like
every other type (ListTagsForResource, at most one TagResource and one UntagResource). Any
other change is a new test (every other property is create-only); CloudFormation then
deletes the old one.

Delete: SES has no API to delete a report. Delete makes no SES call and answers SUCCESS; the
report's desired-state record goes, so TagSync no longer touches it. The tags are left on
the report, on purpose: the test was run and paid for under them (cost allocation keeps
describing it), untagging a report that is never deleted would only blur whose test it was,
and a Delete that makes no SES call cannot fail on SES.

Failures that a user must act on (codes from botocore's sesv2 model; the messages SES sends
are not documented for this operation, see `failure`):
- no Deliverability dashboard subscription: NotFoundException whose message names the
  dashboard ("Unable to find a dashboard account for <ACCOUNT>", what SES answers
  GetDomainStatisticsReport without a subscription, aws/aws-cli#5210; assumed to be the same
  check here, since no source documents CreateDeliverabilityTestReport's answer);
- the sender is not verified: MessageRejected ("Email address is not verified. ...", the
  answer SES documents for SendEmail from an unverified identity; assumed the same for the
  test message, which SES sends like any other) or MailFromDomainNotVerifiedException.
"""

from __future__ import annotations

import logging
from datetime import datetime

from . import tags
from .contract import ResourceHandler
from .errors import ProviderError, error_code, ses_failure
from .links import Link, sender_identities
from .request import Request
from .schema import TAG_SYNC_PROPERTIES, InvalidProperty, Object, ResourceType, String, TAGS

logger = logging.getLogger(__name__)

# The ReportId's format is not documented. A physical id of ours never holds ":" (the failed
# Create marker has "::") nor "/" (an ARN's separator) nor white space.
REPORT_ID_PATTERN = r"[^\s:/]{1,512}"

_CONTENT = {"Data": String(required=True, doc="The text."), "Charset": String(doc="Its character set, e.g. UTF-8.")}

TYPE = ResourceType(
    type_name="Custom::DeliverabilityTestReport",
    native_type="",  # CloudFormation has no native type for it
    arn_kind="deliverability-test-report",
    name_property="ReportName",
    name_pattern=REPORT_ID_PATTERN,
    ref="ReportId",
    properties=Object(
        fields={
            "ReportName": String(
                min_length=1,
                max_length=64,
                create_only=True,
                doc="Generated ({stack}-{logical id}-{suffix}, unique to the request) when omitted. A change makes a new test.",
            ),
            "FromEmailAddress": String(
                required=True,
                pattern=r"[^@\s]+@[^@\s]+",
                create_only=True,
                doc="The sender's address; it or its domain must be verified in SES. A change makes a new test.",
            ),
            "Content": Object(
                required=True,
                create_only=True,
                fields={
                    "Simple": Object(
                        fields={
                            "Subject": Object(required=True, fields=_CONTENT, doc="The subject line."),
                            "Body": Object(
                                required=True,
                                fields={
                                    "Text": Object(fields=_CONTENT, doc="The text part."),
                                    "Html": Object(fields=_CONTENT, doc="The HTML part."),
                                },
                                doc="The text and/or HTML body.",
                            ),
                        },
                        doc="A subject and a body.",
                    ),
                    "Raw": Object(
                        fields={"Data": String(required=True, min_length=1, doc="The whole MIME message, as text.")},
                        doc="A complete MIME message.",
                    ),
                    "Template": Object(
                        fields={
                            "TemplateName": String(min_length=1, doc="An SES email template."),
                            "TemplateArn": String(min_length=1, doc="Its ARN, instead of the name."),
                            "TemplateContent": Object(
                                fields={
                                    "Subject": String(doc="Subject."),
                                    "Text": String(doc="Text part."),
                                    "Html": String(doc="HTML part."),
                                },
                                doc="An inline template, instead of a stored one.",
                            ),
                            "TemplateData": String(max_length=262144, doc="JSON of the template's variables."),
                        },
                        exclusive=(("TemplateName",), ("TemplateArn",), ("TemplateContent",)),
                        doc="An email template and its data.",
                    ),
                },
                exclusive=(("Simple",), ("Raw",), ("Template",)),
                doc="The sample message: exactly one of Simple, Raw or Template. A change makes a new test.",
            ),
            "Tags": TAGS,
            **TAG_SYNC_PROPERTIES,
        }
    ),
    actions=(
        "ses:CreateDeliverabilityTestReport",
        "ses:GetDeliverabilityTestReport",
        "ses:ListDeliverabilityTestReports",
        "ses:TagResource",
        "ses:UntagResource",
        "ses:ListTagsForResource",
    ),
    attributes={
        "ReportId": "the id SES gave the test (also Ref)",
        "Arn": "arn:PARTITION:ses:REGION:ACCOUNT:deliverability-test-report/REPORTID",
        "DeliverabilityTestStatus": "IN_PROGRESS or COMPLETED, when the resource was last created or updated",
        "ReportName": "the report's name, declared or generated",
    },
)

# SES refused the Create outright: nothing was made (codes of botocore's model, 4xx).
_REFUSED = frozenset(
    {
        "BadRequestException",
        "NotFoundException",
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "AccountSuspendedException",
        "SendingPausedException",
        "LimitExceededException",
        "TooManyRequestsException",
        "ConcurrentModificationException",
        "AccessDeniedException",
    }
)
# The lookup of a resumed request allows for this much clock difference between the
# function and SES (CreateDate is SES's clock, StartedAt the function's).
CLOCK_SKEW_SECONDS = 30


class DeliverabilityTestReport(ResourceHandler):
    """Custom::DeliverabilityTestReport: SES chooses the id (CHOOSES_ID), so the Create brings
    its own crash safety (`create_recorded`) and tells its ids by their shape (`owns`)."""

    TYPE = TYPE
    NAME_GENERATION = {"max_length": 64}  # a generated ReportName: {stack}-{logical id}-{suffix}
    SET_BY_CREATE = tuple(TYPE.properties.fields)  # one call sets everything; no Put calls exist
    # The identity it is sent as (the address, or a domain that covers it): a charged test.
    LINKS = (Link("FromEmailAddress", "identity", keys=sender_identities),)

    CHOOSES_ID = True

    def validate(self, props: dict) -> None:
        """What the schema alone cannot say: Content must hold exactly one form, a body a part."""
        content = props["Content"]
        if not any(form in content for form in ("Simple", "Raw", "Template")):
            raise InvalidProperty("Content", "needs one of Simple, Raw or Template")
        simple = content.get("Simple")
        if simple and not simple["Body"]:
            raise InvalidProperty("Content.Simple.Body", "needs Text or Html")
        template = content.get("Template")
        if template is not None and not any(k in template for k in ("TemplateName", "TemplateArn", "TemplateContent")):
            raise InvalidProperty("Content.Template", "needs TemplateName, TemplateArn or TemplateContent")

    # --- the SES calls -----------------------------------------------------------------------

    def create(self, props: dict, client, request: Request) -> tuple[str, dict]:
        """One CreateDeliverabilityTestReport with the tags. Used through `create_recorded`."""
        call = {
            "ReportName": props["ReportName"],
            "FromEmailAddress": props["FromEmailAddress"],
            "Content": props["Content"],
        }
        if props.get("Tags"):
            call["Tags"] = tags.to_list(tags.to_dict(props["Tags"]))
        _guard(client)
        created = client.create_deliverability_test_report(**call)
        report_id = created["ReportId"]
        return report_id, attributes(report_id, props["ReportName"], created.get("DeliverabilityTestStatus", ""), request)

    def create_recorded(self, props: dict, desired: dict, client, request: Request, safety) -> tuple[str, dict]:
        """The Create with its crash safety (see the module's docstring); `safety` is the
        request's crash_safety ledger. Returns the ReportId and the attributes."""
        self.validate(props)
        name = props["ReportName"]
        recorded = safety.records
        report_id = _made_by_this_request(props, client, request, safety) if recorded and request.resumed else None
        if report_id is not None:
            logger.info("adopting report %s, made by an earlier delivery of this request", report_id)
            attributes_ = self._adopt(report_id, props, desired, client, request)
        else:
            try:
                report_id, attributes_ = self.create({**props, "Tags": tags.to_list(desired)}, client, request)
            except Exception as error:
                if error_code(error) in _REFUSED or not recorded:
                    raise self.failure(name, props, request, error) from error
                # It may have landed: look, once.
                try:
                    report_id = _made_by_this_request(props, client, request, safety)
                except Exception:  # noqa: BLE001 - the first error is the one to report
                    report_id = None
                if report_id is None:
                    raise self.failure(name, props, request, error) from error
                attributes_ = self._adopt(report_id, props, desired, client, request)
        safety.save(report_id, props, desired, (), created_by=request.request_id)
        return report_id, attributes_

    def _adopt(self, report_id: str, props: dict, desired: dict, client, request: Request) -> dict:
        arn = request.arns.arn(TYPE.arn_kind, report_id)
        try:
            tags.converge(client, arn, desired=desired, managed=desired)
            return self.update(report_id, props, props, client, request)
        except Exception as error:
            raise ses_failure(self, report_id, request, error, physical_id=report_id) from error

    def update(self, report_id: str, props: dict, old: dict, client, request: Request) -> dict:
        """Nothing of a report changes in place but its tags (lifecycle converges them): read it."""
        report = client.get_deliverability_test_report(ReportId=report_id).get("DeliverabilityTestReport") or {}
        return attributes(report_id, report.get("ReportName", ""), report.get("DeliverabilityTestStatus", ""), request)

    def delete(self, report_id: str, client, request=None) -> None:
        """SES has no API to delete a report: nothing to call (lifecycle removes the record)."""

    def read(self, report_id: str, client) -> None:
        """Raises NotFoundException when there is no such report."""
        client.get_deliverability_test_report(ReportId=report_id)

    def owns(self, physical_id: str, raw, request: Request) -> bool:
        """A ReportId is chosen by SES and unique: any id of its shape came from this provider's
        answer (the failed-Create marker has "::" and does not match)."""
        return TYPE.is_valid_name(physical_id)

    def failure(self, name: str, props: dict, request: Request, error: BaseException) -> ProviderError:
        """FAILED with a reason the user can act on, for the failures that need the user."""
        code = error_code(error)
        message = getattr(error, "response", {}).get("Error", {}).get("Message", "") if code else ""
        where = f"DeliverabilityTestReport {name} in {request.arns.region}"
        sender = props["FromEmailAddress"]
        if code == "NotFoundException" and "dashboard" in message.lower():
            reason = (
                f"{where}: the account has no Deliverability dashboard subscription, which a predictive inbox"
                " placement test needs; enable it (SES console, or PutDeliverabilityDashboardOption; a monthly charge)"
            )
        elif code == "MessageRejected" and "not verified" in message.lower():
            reason = f"{where}: FromEmailAddress {sender} is not verified in SES; verify the address or its domain first"
        elif code == "MailFromDomainNotVerifiedException":
            reason = f"{where}: the MAIL FROM domain of {sender} is not verified; verify it or remove the custom MAIL FROM domain"
        else:
            return ses_failure(self, name, request, error)
        return ProviderError(reason[:256], None, code)


def _guard(client) -> None:
    """Register the hook below on the client, once (botocore keeps one per unique_id)."""
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is not None:
        events.register_first(
            "needs-retry.sesv2.CreateDeliverabilityTestReport", _no_second_test, unique_id="ses-provider-report-no-retry"
        )


def _no_second_test(response=None, caught_exception=None, **kwargs):
    """botocore's needs-retry hook for CreateDeliverabilityTestReport. False means no retry:
    a 5xx or a broken connection may come after SES made the test, and a second attempt
    would make (and charge) a second one. Throttling and other 4xx are left to botocore's
    standard retry (None): SES refused those calls, nothing was made."""
    if caught_exception is not None:
        return False
    if response is not None and response[0].status_code >= 500:
        return False
    return None


def _made_by_this_request(props: dict, client, request: Request, safety) -> str | None:
    """The ReportId of the report this request made in an earlier attempt, if any: the
    request's ReportName and sender, created since the request started, not recorded as
    another request's."""
    since = request.started_at - CLOCK_SKEW_SECONDS
    found = []
    token = None
    while True:
        page = client.list_deliverability_test_reports(**({"NextToken": token} if token else {}))
        for report in page.get("DeliverabilityTestReports") or []:
            created = report.get("CreateDate")
            when = created.timestamp() if isinstance(created, datetime) else 0.0
            if (
                report.get("ReportName") == props["ReportName"]
                and report.get("FromEmailAddress") == props["FromEmailAddress"]
                and when >= since
                and _not_anothers(safety.record(report["ReportId"]), request)
            ):
                found.append((when, report["ReportId"]))
        token = page.get("NextToken")
        if not token:
            break
    if len(found) > 1:
        logger.warning("%d reports match this request; adopting the newest", len(found))
    return max(found)[1] if found else None


def _not_anothers(record, request: Request) -> bool:
    return record is None or record.made_by(request.request_id)


def attributes(report_id: str, name: str, status: str, request: Request) -> dict:
    return {
        "ReportId": report_id,
        "Arn": request.arns.arn(TYPE.arn_kind, report_id),
        "DeliverabilityTestStatus": status,
        "ReportName": name,
    }


HANDLER = DeliverabilityTestReport()
