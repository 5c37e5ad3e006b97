"""Entry point for both `pulumi up` (the engine runs this folder) and `python -m infra ...`.

Under the Pulumi engine a resource monitor is configured and the program is defined; from a
shell, the command line (offline plan, ...) runs instead.
"""

import sys

from infra.pulumi_internals import engine_attached

if engine_attached():
    from infra.program import define_stack

    define_stack()
elif __name__ == "__main__":
    from infra.cli import main

    sys.exit(main())
