"""Running the functions on this machine, with no AWS account: what `python -m tools.invoke`,
`make emulator`, `make demo`, the benchmarks and the tests share.

- `tools.local.aws`: the fake account (credentials that can sign for no real account, the
  examples' region), an environment for a block, clients of our own, Lambda's context, logs.
- `tools.local.servers`: moto on loopback with its fidelity patches, and the HTTPS endpoint
  behind CloudFormation's pre-signed ResponseURL.
- `tools.local.invoker`: the functions of functions/ run in this process on the events of
  events/, in the local environment of the examples (the table, the stack, the queue).
- `tools.local.cloudtrail`: the CloudTrail event (as EventBridge delivers it to TagSync) of an
  SES v2 call made by hand.
- `tools.local.moto_ses_fidelity`, `tools.local.moto_route53_fidelity`: moto corrected to
  answer as SES v2 and Route 53 do where the provider relies on it.

None of it is in the Lambda layer (template.yaml ships layers/ses_provider alone), and none of
it depends on tests/: the tools stand on the product.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# The layer's package importable as in Lambda (/opt/python), as pyproject's pythonpath makes it
# under pytest.
if str(REPO / "layers" / "ses_provider") not in sys.path:
    sys.path.insert(0, str(REPO / "layers" / "ses_provider"))
