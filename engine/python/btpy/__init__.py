# SPDX-License-Identifier: MIT
"""btpy: the Python reference backtest, a twin of bt-engine (see docs/python-engine.md)."""
