"""Run medallion (the OASIS TAXII 2.1 reference server) with one upstream bug worked around, for the sync tests.

medallion 3's memory backend finds an object's version with `find_att`, which reads a `version` property before
`modified`/`created`. Manifest entries carry `version` (a timestamp), but STIX objects may carry a `version` of
their own: an `extension-definition` has `"version": "1.0.0"` (STIX 2.1 section 7.3), so every GET of a collection
holding one fails with a 500 (`time data '1.0.0' does not match format`). Our bundles publish the
extension-definition of the x_ukau_ properties, so the server must serve it. The fix reads `version` only on
manifest entries (which have no `type`); everything else is medallion as released.

Usage: python tests/analytics/sync/medallion_run.py --host H --port P CONFIG.json
"""

from __future__ import annotations

from typing import Any

import medallion.backends.memory_backend as memory_backend
import medallion.common as common
import medallion.filters.basic_filter as basic_filter
from medallion.scripts.run import main

_released = common.find_att


def find_att(obj: dict[str, Any]) -> Any:
    if "type" in obj and "version" in obj:  # a STIX object with a `version` property of its own
        obj = {k: v for k, v in obj.items() if k != "version"}
    return _released(obj)


for module in (common, basic_filter, memory_backend):
    module.find_att = find_att

if __name__ == "__main__":
    main()
