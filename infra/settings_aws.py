"""Settings of the AWS target (`releasegate:cloud: aws`), read from the `releasegate:aws` key.

The value types live in `components.aws.spec` (components never import the program); they are
re-exported here for config code. `infra.config_aws` loads and validates them.
"""

from __future__ import annotations

from components.aws.spec import AwsSpec, ExistingNetwork, HostedZone, NewNetwork, WafSpec

__all__ = ["AwsSpec", "ExistingNetwork", "HostedZone", "NewNetwork", "WafSpec"]
