"""CloudFormation's limits on a custom resource's answer, which the protocol enforces and a type
keeps within (an identity's attributes must fit one answer)."""

MAX_RESPONSE_BYTES = 4096  # CloudFormation rejects a larger response body
MAX_REASON = 256  # and shows no more of a reason
