"""tools/local/moto_route53_fidelity.py under its former name. The very same module, not a
copy: a test's monkeypatch of one of its settings must reach the server that reads them."""

import sys

from tools.local import moto_route53_fidelity

sys.modules[__name__] = moto_route53_fidelity
