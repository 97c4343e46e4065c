"""Tests of AWX as code and of inventory/example (no AWX server, no lab nodes)."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
