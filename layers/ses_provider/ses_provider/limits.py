"""CloudFormation's limits on a custom resource's answer and on its wait: what the protocol
keeps, and what a resource type must know too (attributes that would overflow the answer, a
reason cut to what CloudFormation shows, the longest wait). Imports nothing: the ground floor."""

MAX_RESPONSE_BYTES = 4096  # CloudFormation rejects a larger response body
MAX_REASON = 256  # the characters of a reason that CloudFormation shows
# CloudFormation waits for a custom resource at most ServiceTimeout seconds (1 to 3600, default
# 3600: the AWS::CloudFormation::CustomResource reference); an answer after that is ignored.
SERVICE_TIMEOUT = 3600
