"""Fixed warp topology: MediaPipe's face mesh triangles, the eye and mouth openings filled, and rings of border
points from the face outline out to a ring of anchors, so the warp covers the face and fades to nothing at the
anchors."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from filters.base import NUM_LANDMARKS
from filters.neutralise.regions import FACE_OVAL, TESSELATION_EDGES

# Opening contours, each as (upper, lower) lists running between the same two corners.
_OPENINGS = (
    ([78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308], [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]),
    ([33, 246, 161, 160, 159, 158, 157, 173, 133], [33, 7, 163, 144, 145, 153, 154, 155, 133]),
    ([263, 466, 388, 387, 386, 385, 384, 398, 362], [263, 249, 390, 373, 374, 380, 381, 382, 362]),
)
ANCHOR_SCALE = 1.35  # the anchor ring sits this many times the outline's distance from the face centre
# ... and this much further out below the face centre: a jaw closed by the warp leaves the stretch of what lies
# under the chin spread over more of the neck instead of one smear.
CHIN_EXTRA = 0.45
# Rings from the outline out to the anchor ring (the anchor ring last). One fan of triangles straight from the
# outline to the anchors bends a line it crosses (a jaw line, a collar) into a sawtooth whenever the outline
# moves: each triangle fades the movement out along its own diagonal. Thinner strips with alternating diagonals
# give each strip a third of the fade and cancel most of the bend.
BORDER_RINGS = 3
NUM_ANCHORS = len(FACE_OVAL) * BORDER_RINGS


def _mesh_triangles() -> list[tuple[int, int, int]]:
    edges = {tuple(sorted(e)) for e in TESSELATION_EDGES.tolist()}
    neighbours: dict[int, set[int]] = defaultdict(set)
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    cliques = {tuple(sorted((a, b, c))) for a, b in edges for c in neighbours[a] & neighbours[b]}
    # A 3-clique is a mesh face unless it is a "separating" triangle, whose three edges then each border three
    # triangles (the mesh has two: around the nostrils).
    uses: dict[tuple[int, int], int] = defaultdict(int)
    for a, b, c in cliques:
        for e in ((a, b), (b, c), (a, c)):
            uses[e] += 1
    return sorted(t for t in cliques if not all(uses[e] > 2 for e in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2]))))


def _strip(upper: list[int], lower: list[int]) -> list[tuple[int, int, int]]:
    triangles = []
    for k in range(len(upper) - 1):
        for tri in ((upper[k], upper[k + 1], lower[k]), (upper[k + 1], lower[k + 1], lower[k])):
            if len(set(tri)) == 3:
                triangles.append(tri)
    return triangles


def _anchor_triangles() -> list[tuple[int, int, int]]:
    count = len(FACE_OVAL)
    rings = [FACE_OVAL.tolist()] + [list(NUM_LANDMARKS + r * count + np.arange(count)) for r in range(BORDER_RINGS)]
    triangles = []
    for r, (inner, outer) in enumerate(zip(rings[:-1], rings[1:])):
        for k in range(count):
            a, b = int(inner[k]), int(inner[(k + 1) % count])
            ra, rb = int(outer[k]), int(outer[(k + 1) % count])
            triangles += [(a, b, ra), (b, rb, ra)] if r % 2 == 0 else [(a, b, rb), (a, rb, ra)]
    return triangles


TRIANGLES = np.array(
    _mesh_triangles() + [t for up, low in _OPENINGS for t in _strip(up, low)] + _anchor_triangles(), dtype=np.intp
)


def anchor_ring(points: np.ndarray) -> np.ndarray:
    """(len(FACE_OVAL), D) anchor positions for a face's pose-free (478, D) points (y down): the outline pushed
    out from its centre, further below it."""
    outline = points[FACE_OVAL]
    centre = outline.mean(axis=0)
    offset = outline - centre
    below = np.clip(offset[:, 1] / max(float(offset[:, 1].max()), 1e-6), 0.0, 1.0)
    ring = centre + (ANCHOR_SCALE + CHIN_EXTRA * below**2)[:, None] * offset
    if points.shape[1] == 3:
        ring[:, 2] = outline[:, 2]
    return ring


def border_points(outline: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """(NUM_ANCHORS, D): the rings from an ``outline`` (the FACE_OVAL points) out to the anchor ``ring``, evenly
    spaced along each outline point's line to its anchor, the anchor ring last."""
    return np.concatenate([outline + (r / BORDER_RINGS) * (ring - outline) for r in range(1, BORDER_RINGS + 1)])
