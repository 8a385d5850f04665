#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bt_backtest: the Python reference backtest, a twin of bt-engine (docs/python-engine.md)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from btpy.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
