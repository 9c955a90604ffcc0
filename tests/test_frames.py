"""The animation's frames are drawn by blitting (engine/figures.py FrameDrawer): the axes, points and
words once, then per frame only the curve, the loss line, its dot and the two numbers. A blitted frame
must be exactly what matplotlib draws when it draws the whole figure with the same artists (the
spines and the points lie above the curve, so they are drawn over it in each frame too)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from engine.figures import FrameDrawer


def full_redraw(drawer: FrameDrawer) -> Image.Image:
    """The figure as it stands, drawn whole by matplotlib (every artist in its usual order)."""
    moving = [drawer.curve, drawer.loss_line, drawer.loss_dot, drawer.epoch, drawer.loss, *drawer.points]
    for artist in moving:
        artist.set_animated(False)
    try:
        drawer.canvas.draw()
        return Image.frombuffer("RGBA", drawer.canvas.get_width_height(), bytes(drawer.canvas.buffer_rgba())).convert("RGB")
    finally:
        for artist in moving:
            artist.set_animated(True)


def test_blitted_frames_are_pixel_for_pixel_a_full_redraw(default_run):
    drawer = FrameDrawer(default_run)
    count = len(default_run.snapshots)
    for index in (0, 1, count // 4, count // 2, count - 1):
        blitted = np.asarray(drawer.frame(index).copy())
        whole = np.asarray(full_redraw(drawer))
        assert blitted.shape == whole.shape
        differing = np.argwhere((blitted != whole).any(axis=2))
        assert len(differing) == 0, f"frame {index}: {len(differing)} pixels differ, first at {differing[:3].tolist()}"
        assert len(np.unique(blitted.reshape(-1, 3), axis=0)) > 20   # a drawn frame, not an empty canvas
