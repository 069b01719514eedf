"""The warm state of one batch worker: analysed portraits reused by its later jobs.

Models are loaded once per process already (the face models are cached module-wide);
what a job repeats is the portrait analysis (detection, two mesh passes, irises, mask:
a second or more). Entries are keyed by the file's resolved path, mtime, size and the face
options, so an edited portrait is analysed again. A few entries are kept (LRU).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

from talkcli.pipeline import PortraitSource


class PortraitCache(PortraitSource):
    def __init__(self, max_entries: int = 8) -> None:
        self.max_entries = max_entries
        self._rigs: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(path: Path, face_index: int | None) -> tuple[Any, ...]:
        p = Path(path).resolve()
        st = p.stat()
        return (str(p), st.st_mtime_ns, st.st_size, face_index)

    def rig(self, path: Path, face_index: int | None) -> Any:
        k = self.key(path, face_index)
        if k in self._rigs:
            self.hits += 1
            self._rigs.move_to_end(k)
            return self._rigs[k]
        self.misses += 1
        rig = super().rig(path, face_index)
        self._rigs[k] = rig
        while len(self._rigs) > self.max_entries:
            self._rigs.popitem(last=False)
        return rig
