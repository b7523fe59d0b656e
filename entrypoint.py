"""The action container's entry point.

Without arguments (as the Actions runner starts it): the runner's INPUT_* variables -> the
action's pipeline. With arguments (`docker run IMAGE validate -f scar.yaml`): the scar-ci CLI.
"""

import sys

from scar_ci.process_exit import leave

if __name__ == "__main__":
    if len(sys.argv) > 1:
        from scar_ci.cli import main as cli
        leave(cli(sys.argv[1:]))
    from scar_ci.steps.action import main
    leave(main())
