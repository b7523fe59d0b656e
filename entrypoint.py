"""The action container's entry point: the runner's INPUT_* variables -> scar_ci's pipeline."""

import sys

from scar_ci.steps.action import main

if __name__ == "__main__":
    sys.exit(main())
