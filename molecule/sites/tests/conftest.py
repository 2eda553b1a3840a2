"""The sites scenario's test modules share the helpers of test_sites.py (``from test_sites import ...``): pytest
runs with --import-mode=importlib (pyproject.toml), which puts no test folder on sys.path, so this one does."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
