"""One render's marks (watermark payload + C2PA manifest), and the marks of written images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from talkcli import __version__
from talkcli.provenance.credentials import (
    SOURCE_VIDEO,
    Ingredient,
    SignerFiles,
    manifest_definition,
    resolve_signer,
    sign_in_place,
)
from talkcli.provenance.payload import Payload, new_payload
from talkcli.provenance.watermark import Embedder

SYNTHETIC_TEXT = f"synthetic: made by talkcli {__version__}; not a real recording or photo"


class RenderMarks:
    """The watermark embedder and the manifest signer of one render.

    marks = RenderMarks([("portrait", p), ("audio", a)])   # signer checked here, early
    marks.embed(frames, first_index)                        # every chunk, before encoding
    marks.sign_video(temp_mp4)                              # the encoder's finished file
    """

    def __init__(self, inputs: list[tuple[str, Path]], sign_key: Path | None = None,
                 sign_cert: Path | None = None, payload: Payload | None = None) -> None:
        self.payload = new_payload() if payload is None else payload
        self.signer: SignerFiles = resolve_signer(sign_key, sign_cert)
        self.ingredients = [Ingredient.of(role, path) for role, path in inputs]
        self.embedder = Embedder(self.payload)

    @property
    def render_id(self) -> str:
        return self.payload.render_id_hex

    def embed(self, frames: np.ndarray, first_index: int = 0) -> np.ndarray:
        """Watermark uint8 (B, H, W, 3) or (H, W, 3) frames in place."""
        return self.embedder.embed(frames, first_index)

    def sign_video(self, path: Path, title: str | None = None) -> None:
        """Embed the signed C2PA manifest into a finished MP4 (in place)."""
        definition = manifest_definition(title or path.name, SOURCE_VIDEO, self.render_id,
                                         self.ingredients, "talking-face video")
        sign_in_place(path, "video/mp4", definition, self.signer)


def finalize_image(path: Path, kind: str, source_type: str,
                   inputs: list[tuple[str, Path]], title: str | None = None) -> None:
    """Mark a PNG/JPEG talkcli wrote (in place): text metadata, then a signed manifest."""
    from PIL import Image, PngImagePlugin

    fmt = "png" if path.read_bytes()[:4] == b"\x89PNG" else "jpeg"
    with Image.open(path) as img:
        img.load()
        if fmt == "png":
            info = PngImagePlugin.PngInfo()
            info.add_text("Software", f"talkcli {__version__}")
            info.add_text("Comment", f"{SYNTHETIC_TEXT} ({kind})")
            img.save(path, format="PNG", pnginfo=info)
        else:
            exif = img.getexif()
            exif[0x0131] = f"talkcli {__version__}"  # Software
            exif[0x010E] = f"{SYNTHETIC_TEXT} ({kind})"  # ImageDescription
            img.save(path, format="JPEG", quality=95, exif=exif)
    ingredients = [Ingredient.of(role, p) for role, p in inputs]
    definition = manifest_definition(title or path.name, source_type, None, ingredients, kind)
    sign_in_place(path, f"image/{fmt}", definition, resolve_signer())
