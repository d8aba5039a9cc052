"""Point labels that do not overlap: a greedy search over candidate positions around each point.

Scatter plots of concept spaces (the MDS of the human RDM, Fig. 3A) put several concepts close
together; labels at one fixed offset then print over each other. :func:`place_labels` measures
every label with the figure's renderer and, point by point (the most crowded first), takes the
first candidate position that stays inside the axes and clears every label already placed and
every marker; candidates go round the point (right, above, below, left and the diagonals) at
growing distances. A label that ends up away from its point gets a thin leader line. Offsets
are in points, as are the font and the marker, so the layout holds at any dpi; call it after
the figure's layout is final (after ``tight_layout``), since it measures the axes as they are.
"""

from __future__ import annotations

import numpy as np

# distances (points) between a marker's edge and its label's box, tried in this order
RADII = (1.5, 4.0, 7.0, 11.0, 16.0, 22.0, 30.0, 40.0, 52.0)
# directions round the point: right, upper right, lower right, up, down, then the left side
ANGLES = np.deg2rad([0, 30, -30, 60, -60, 90, -90, 120, -120, 150, -150, 180])
LEADER_FROM = 5.0     # points between point and label beyond which a leader line is drawn
PAD = 1.0             # points of clear space kept round every box


def overlap(a, b) -> float:
    """Area shared by two boxes ``(x0, y0, x1, y1)``."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def crowding(px: np.ndarray, within: float) -> np.ndarray:
    """For each point, how many other points lie within ``within`` (display units)."""
    d = np.hypot(*(px[:, None, :] - px[None, :, :]).transpose(2, 0, 1))
    return (d < within).sum(axis=1) - 1


def candidates(p, w: float, h: float, gap: float, scale: float):
    """Box centres round point ``p`` for a ``w`` x ``h`` box (display units), nearest first."""
    for r in RADII:
        for a in ANGLES:
            c, s = np.cos(a), np.sin(a)
            yield (p[0] + c * (w / 2 + gap + r * scale), p[1] + s * (h / 2 + gap + r * scale))


def renderer_of(fig):
    """The figure's renderer; for a canvas without one (e.g. the PDF backend), an Agg
    renderer of the same figure, its own canvas kept."""
    get = getattr(fig.canvas, "get_renderer", None)
    if get is not None:
        return get()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    own = fig.canvas
    r = FigureCanvasAgg(fig).get_renderer()
    fig.set_canvas(own)
    return r


def place_labels(ax, xy, texts, fontsize: float = 5.5, marker_size: float = 18.0,
                 color: str = "black") -> list:
    """Annotate the points ``xy`` (data coordinates) of ``ax`` with ``texts`` so that no two
    labels overlap each other or a marker (scatter size ``marker_size``, points squared), all
    inside the axes where the space allows it; returns the annotations. Where no candidate is
    clear, the one sharing the least area is taken (the test of the study's space checks it
    never comes to that)."""
    fig = ax.figure
    renderer = renderer_of(fig)
    ax.set_xlim(ax.get_xlim())                               # settle pending autoscaling: the
    ax.set_ylim(ax.get_ylim())                               # labels sit where the data are now
    scale = fig.dpi / 72.0                                   # points -> display units
    px = ax.transData.transform(np.asarray(xy, dtype=float))
    frame = ax.get_window_extent(renderer)
    pad = PAD * scale
    half = (np.sqrt(marker_size) / 2) * scale                # marker radius
    markers = [(x - half - pad, y - half - pad, x + half + pad, y + half + pad) for x, y in px]
    sizes = []
    for t in texts:                                          # measure each label once
        probe = ax.text(0, 0, t, fontsize=fontsize, ha="center", va="center")
        e = probe.get_window_extent(renderer)
        probe.remove()
        sizes.append((e.width, e.height))
    placed: dict[int, tuple] = {}
    order = np.argsort(-crowding(px, 30 * scale), kind="stable")
    for i in order:
        w, h = sizes[i]
        best, best_cost = None, np.inf
        for cx, cy in candidates(px[i], w, h, half, scale):
            box = (cx - w / 2 - pad, cy - h / 2 - pad, cx + w / 2 + pad, cy + h / 2 + pad)
            outside = (max(frame.x0 - box[0], 0) + max(box[2] - frame.x1, 0)
                       + max(frame.y0 - box[1], 0) + max(box[3] - frame.y1, 0))
            cost = (sum(overlap(box, b) for b in placed.values())
                    + sum(overlap(box, m) for m in markers) + outside * (w + h))
            if cost < best_cost:
                best, best_cost = (cx, cy, box), cost
            if cost == 0:
                break
        placed[i] = best[2]
        sizes[i] = (w, h, best[0], best[1])
    out = []
    for i, (t, (x, y)) in enumerate(zip(texts, np.asarray(xy, dtype=float))):
        w, h, cx, cy = sizes[i]
        dx, dy = (cx - px[i][0]) / scale, (cy - px[i][1]) / scale
        # distance from the point to the nearest edge of the label, in points
        gap = np.hypot(max(abs(dx) - w / scale / 2, 0), max(abs(dy) - h / scale / 2, 0))
        far = gap > LEADER_FROM + np.sqrt(marker_size) / 2
        arrow = (dict(arrowstyle="-", lw=0.4, color="0.45", shrinkA=0.5,
                      shrinkB=np.sqrt(marker_size) / 2) if far else None)
        out.append(ax.annotate(t, (x, y), xytext=(dx, dy), textcoords="offset points",
                               ha="center", va="center", fontsize=fontsize, color=color,
                               arrowprops=arrow))
    return out


def boxes(annotations, renderer=None) -> list:
    """The display boxes ``(x0, y0, x1, y1)`` of the labels' text as drawn, without their
    leader lines (an annotation's own extent includes its arrow)."""
    from matplotlib.text import Text

    out = []
    for a in annotations:
        r = renderer or renderer_of(a.figure)
        a.update_positions(r)                     # where the text is now, as a draw puts it
        e = Text.get_window_extent(a, r)
        out.append((e.x0, e.y0, e.x1, e.y1))
    return out
