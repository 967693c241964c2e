"""tools/local/moto_ses_fidelity.py under its former name. The very same module, not a copy:
a test's monkeypatch of one of its settings must reach the server that reads them."""

import sys

from tools.local import moto_ses_fidelity

sys.modules[__name__] = moto_ses_fidelity
