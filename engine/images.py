"""Encode animation frames: one shared palette, palette PNGs, and a looping GIF (Pillow); name the drawn files.

Plots have few colours, so a 64-colour palette learnt from a handful of
frames fits every frame: the PNGs shrink to a third of their RGB size and
the GIF needs no palette of its own per frame.
"""

from __future__ import annotations

import io

from PIL import Image

GIF = "animation/training.gif"
GIF_FRAMES = 101  # at most: a GIF of more frames runs too long to follow; the PNGs keep them all


class FigureError(Exception):
    """A figure cannot be drawn here (a font is missing, say); str() says why and how to fix it, in one line.

    It lives here, not in engine.figures, so the build can catch it without importing matplotlib.
    """


def frame_name(index: int, count: int) -> str:
    """The file name of frame `index` (0-based), zero-padded so the names sort in order."""
    return f"animation/frames/frame-{index + 1:0{max(3, len(str(count)))}d}.png"


def figure_name(lang: str, name: str, narrow: bool = False) -> str:
    """The file name of a static figure in one language, or of its narrow layout (for a phone)."""
    return f"figures/{lang}/{name}{'-narrow' if narrow else ''}.svg"


def dark_copy(svg: bytes) -> bytes:
    """A figure's dark look (`name.svg#dark`, see engine.figures.themed_svg) as a file of its own, for an
    address that cannot end in #dark: its dark values replace the light ones by coming last.

    It lives here, not in engine.figures, so that --single-file needs no matplotlib.
    """
    return svg.replace(b":target{", b"svg{", 1)


def palette_picks(count: int) -> list[int]:
    """The frames to learn the palette from: the first, the middle and the last one hold every colour."""
    return sorted({0, count // 2, count - 1})


def gif_picks(count: int) -> list[int]:
    """The frames the GIF shows: all of them, or evenly spread ones including the first and last."""
    if count <= GIF_FRAMES:
        return list(range(count))
    return sorted({round(k * (count - 1) / (GIF_FRAMES - 1)) for k in range(GIF_FRAMES)})


def shared_palette(pictures: list[Image.Image]) -> Image.Image:
    """One 64-colour palette for all frames (MAXCOVERAGE keeps white white; MEDIANCUT does not)."""
    mosaic = Image.new("RGB", (pictures[0].width, pictures[0].height * len(pictures)))
    for k, picture in enumerate(pictures):
        mosaic.paste(picture, (0, k * picture.height))
    return mosaic.quantize(colors=64, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)


def png_bytes(image: Image.Image) -> bytes:
    """Encode an image as PNG with no metadata."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def gif_from_pngs(pngs: list[bytes]) -> bytes:
    """The GIF of frames already written as palette PNGs (frames drawn in several shares)."""
    return gif_bytes([Image.open(io.BytesIO(png)) for png in pngs])


def gif_bytes(frames: list[Image.Image], frame_ms: int = 120, hold_ms: int = 2000) -> bytes:
    """A looping GIF of palette frames that holds still on the last one for a moment."""
    durations = [frame_ms] * (len(frames) - 1) + [hold_ms]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return buffer.getvalue()
