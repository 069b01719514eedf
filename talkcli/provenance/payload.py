"""The watermark's payload: talkcli's version and a random render id, as three 12-bit symbols.

Each symbol is carried by the circular shift of one payload template relative to the sync
template (64 × 64 = 4096 shifts = 12 bits; see watermark.py): symbol 0 is the version
(4 bits each for major, minor, patch), symbols 1 and 2 the 24-bit render id. A shift is
read as a correlation peak, whose height says how sure the read is; no separate checksum.
That a talkcli mark is present at all is decided by the sync template's test, never here.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from talkcli import __version__

SYMBOL_BITS = 12
SYMBOLS = 3
RENDER_ID_BITS = 24


@dataclass(frozen=True)
class Payload:
    version: str  # "major.minor.patch" (each part clipped to 0-15)
    render_id: int  # 24-bit random number, also recorded in the C2PA manifest

    @property
    def render_id_hex(self) -> str:
        return f"{self.render_id:06x}"

    def to_symbols(self) -> tuple[int, int, int]:
        major, minor, patch = _version_parts(self.version)
        rid = self.render_id & ((1 << RENDER_ID_BITS) - 1)
        return (major << 8) | (minor << 4) | patch, rid >> SYMBOL_BITS, rid & 0xFFF

    @classmethod
    def from_symbols(cls, symbols: tuple[int, ...]) -> Payload:
        if len(symbols) != SYMBOLS or any(not 0 <= s < (1 << SYMBOL_BITS) for s in symbols):
            raise ValueError(f"expected {SYMBOLS} symbols of {SYMBOL_BITS} bits: {symbols}")
        v = symbols[0]
        version = f"{v >> 8}.{(v >> 4) & 0xF}.{v & 0xF}"
        return cls(version=version, render_id=(symbols[1] << SYMBOL_BITS) | symbols[2])

    def to_dict(self) -> dict[str, str]:
        return {"tool": "talkcli", "version": self.version, "render_id": self.render_id_hex}


def new_payload() -> Payload:
    """This talkcli's version and a fresh random render id."""
    return Payload(version=__version__, render_id=secrets.randbits(RENDER_ID_BITS))


def _version_parts(version: str) -> tuple[int, int, int]:
    nums = [int(n) for n in re.findall(r"\d+", version)[:3]] + [0, 0, 0]
    return min(nums[0], 15), min(nums[1], 15), min(nums[2], 15)
