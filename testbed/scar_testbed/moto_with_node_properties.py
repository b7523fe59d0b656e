"""moto's server, answering DescribeJobDefinitions with a multi-node job definition's
`nodeProperties` as AWS Batch's API does (moto 5.2 stores them at RegisterJobDefinition and
leaves them out of the answer). Run as a script with moto_server's arguments; imports moto only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from moto.batch.models import JobDefinition
from moto.server import main


def with_node_properties(describe: Callable[[Any], dict[str, Any]]
                         ) -> Callable[[Any], dict[str, Any]]:
    def described(definition: Any) -> dict[str, Any]:
        answer = describe(definition)
        if definition.node_properties is not None:
            answer.setdefault("nodeProperties", definition.node_properties)
        return answer
    return described


if __name__ == "__main__":
    JobDefinition.describe = with_node_properties(JobDefinition.describe)
    sys.exit(main(sys.argv[1:]))
