"""Re-extract the MediaPipe .tflite models that talkcli ships in models/.

The files come from the mediapipe==0.10.14 wheel (Apache-2.0). talkcli does not
depend on mediapipe at run time (it would pull jax, and 1.x wheels no longer
contain these files); this script is only for reproducing models/ by hand:

    pip download --no-deps --only-binary=:all: mediapipe==0.10.14 -d /tmp/mp
    python scripts/extract_models.py /tmp/mp/mediapipe-0.10.14-*.whl

It writes the files into models/ and rewrites models/SHA256SUMS.
"""

from __future__ import annotations

import hashlib
import sys
import zipfile
from pathlib import Path

MODEL_PATHS = {
    "face_detection_short_range.tflite": "mediapipe/modules/face_detection/",
    "face_detection_full_range_sparse.tflite": "mediapipe/modules/face_detection/",
    "face_landmark.tflite": "mediapipe/modules/face_landmark/",
    "iris_landmark.tflite": "mediapipe/modules/iris_landmark/",
    "selfie_segmentation.tflite": "mediapipe/modules/selfie_segmentation/",
}
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


def extract(wheel: Path, dest: Path = MODELS_DIR) -> list[str]:
    lines = []
    with zipfile.ZipFile(wheel) as zf:
        for name, folder in MODEL_PATHS.items():
            data = zf.read(folder + name)
            (dest / name).write_bytes(data)
            lines.append(f"{hashlib.sha256(data).hexdigest()}  {name}")
    (dest / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return lines


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print("\n".join(extract(Path(sys.argv[1]))))
