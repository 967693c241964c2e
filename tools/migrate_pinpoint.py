"""The former name of tools.migrate, kept so that `python -m tools.migrate_pinpoint` and
`from tools import migrate_pinpoint` go on working: the same module, the same engine."""

import sys

from tools import migrate

if __name__ == "__main__":
    sys.exit(migrate.main(prog="python -m tools.migrate_pinpoint"))
else:
    # One module under both names: what a caller reads or patches here is tools.migrate's.
    sys.modules[__name__] = migrate
