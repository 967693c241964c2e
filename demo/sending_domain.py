"""The demo's domain from nothing to verified, in one Create: Custom::EmailIdentity publishes
every record the domain needs in its Route 53 zone, hands the wait on to the verification
queue, and answers CloudFormation once the local SES has seen the DKIM records (after
LOCAL_SES_VERIFICATION_SECONDS), with its sending authorization policy applied
(events/email_identity/create_sending_domain.json). The Delete removes the records it wrote.

Lambda's SQS event source mapping is played here: each message of the queue is handed to the
function as Lambda would, one poll per delivery."""

from __future__ import annotations

import json

from tools.local.aws import aws_client, environment
from tools.local.invoker import Queue, load_event

FUNCTION = "email_identity"
POLL_SECONDS = 1  # the demo's poll interval (VERIFICATION_POLL_SECONDS; 30 s in Lambda)
MAX_POLLS = 20


def _zone_records(route53, zone_id: str) -> list[str]:
    listed = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return [
        f"{r['Name']:<52} {r['Type']:<5} {' '.join(v['Value'] for v in r.get('ResourceRecords', []))[:60]}"
        for r in listed
        if r["Type"] not in ("NS", "SOA")
    ]


def sending_domain_demo(demo, local, kind) -> None:
    invoker, ses = local.invoker, local.ses
    route53, sqs = aws_client("route53", local.ses_url), aws_client("sqs", local.ses_url)
    create = load_event(FUNCTION, "create_sending_domain")
    name = create["ResourceProperties"]["EmailIdentity"]
    zone_id = route53.create_hosted_zone(Name=name, CallerReference="ses-demo")["HostedZone"]["Id"].split("/")[-1]
    url = sqs.create_queue(QueueName="ses-demo-verification", Attributes={"VisibilityTimeout": "180"})["QueueUrl"]
    queue = Queue(sqs, url)
    print(f"== Custom::EmailIdentity {name}: from nothing to verified in one Create ==")
    print(f"  (Route 53 zone {name} is {zone_id}; the event's HostedZoneId is set to it, and the provider")
    print(f"   stack's HostedZoneIds to {zone_id}: the only zone the provider may publish in)\n")
    create["ResourceProperties"]["HostedZoneId"] = zone_id
    invoker.hosted_zone_ids = zone_id
    wrong: list[str] = []
    with environment(VERIFICATION_QUEUE_URL=url, VERIFICATION_POLL_SECONDS=str(POLL_SECONDS)):
        before = len(local.endpoint.responses)
        _, calls = invoker.call(FUNCTION, invoker.prepare(create))
        print("  Create                                   events/email_identity/create_sending_domain.json")
        print(f"    {'answer':<13} none yet: handed on to the verification queue")
        print(f"    {'SES calls':<13} {', '.join(calls)}")
        print(f"    {'in the zone':<13} " + f"\n    {'':<13} ".join(_zone_records(route53, zone_id)))
        polls = 0
        while len(local.endpoint.responses) == before and polls < MAX_POLLS:
            record = queue.receive(wait=POLL_SECONDS + 1)  # long polling: the message's delay, no sleep
            if record is None:
                continue
            polls += 1
            result, calls = invoker.call(FUNCTION, {"Records": [record]})
            if record["messageId"] not in {failure["itemIdentifier"] for failure in result["batchItemFailures"]}:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])
            state = ses.get_email_identity(EmailIdentity=name)
            print(
                f"    poll {polls:<8} DkimStatus {state['DkimAttributes']['Status']}, VerifiedForSendingStatus"
                f" {str(state['VerifiedForSendingStatus']).lower()}; SES calls {', '.join(calls)}"
            )
    answers = local.endpoint.responses[before:]
    if len(answers) != 1:
        wrong.append(f"expected one answer, got {len(answers)}")
    else:
        body = answers[0].body
        print(f"    {'status':<13} {body['Status']}" + (f": {body['Reason']}" if body["Reason"] else ""))
        data = body.get("Data") or {}
        shown = ("VerifiedForSendingStatus", "DkimStatus", "VerificationStatus", "MailFromDomainStatus", "DkimDNSTokenName1", "MailFromMxRecordValue", "DmarcRecordValue")
        print(f"    {'data':<13} " + f"\n    {'':<13} ".join(f"{key:<26} {data.get(key, '')}" for key in shown))
        if body["Status"] != "SUCCESS" or data.get("VerifiedForSendingStatus") != "true":
            wrong.append("expected SUCCESS once verified for sending")
        held = ses.get_email_identity_policies(EmailIdentity=name)["Policies"]
        print(f"    {'policies':<13} {', '.join(held) or 'none'}")
        if {key: json.loads(value) for key, value in held.items()} != create["ResourceProperties"]["Policies"]:
            wrong.append("expected the declared policy in SES")
    print(f"    {'result':<13} " + ("as expected" if not wrong else "UNEXPECTED: " + "; ".join(wrong)) + "\n")
    demo.problems += [f"{kind.type_name} sending domain: {problem}" for problem in wrong]

    delete = load_event(FUNCTION, "delete_sending_domain")
    delete["ResourceProperties"]["HostedZoneId"] = zone_id
    demo.step(kind, "Delete: the identity and the records it wrote", "delete_sending_domain", _removed(demo, kind, route53, zone_id, name), event=delete)


def _removed(demo, kind, route53, zone_id: str, name: str):
    def check(body: dict, calls: list[str]) -> list[str]:
        wrong = demo.deleted(kind, name)(body, calls)
        left = _zone_records(route53, zone_id)
        print(f"    {'in the zone':<13} {', '.join(left) or 'nothing but NS and SOA'}")
        return wrong + ([f"records left: {left}"] if left else [])

    return check
