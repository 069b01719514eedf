"""The marks every talkcli output carries, and their detection (`talkcli verify`).

- container metadata (video/encoder.py for MP4s; PNG text chunks for images, here),
- a C2PA manifest, signed (credentials.py),
- an invisible watermark in the pixels of every rendered frame (watermark.py).

`RenderMarks` is what a render (or a stream) uses: `embed(frames, first_index)` on each
uint8 (B, H, W, 3) chunk or (H, W, 3) frame before it is encoded, and `sign_video(path)` on
the finished MP4 before it is renamed into place.
"""

from talkcli.provenance.marks import RenderMarks, finalize_image

__all__ = ["RenderMarks", "finalize_image"]
