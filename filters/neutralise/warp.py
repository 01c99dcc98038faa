"""Piecewise-affine warp of an image region as ONE ``cv2.remap``.

The inverse map (output pixel -> source pixel) is computed on a coarse grid inside the region only, for the
triangles that actually move, fully vectorised (no per-triangle OpenCV calls), then upsampled with a bilinear
resize: a piecewise-affine map is continuous, so its bilinear interpolation between grid nodes is within a
fraction of a pixel of the exact map.
"""

from __future__ import annotations

import cv2
import numpy as np


def triangulate(points: np.ndarray) -> np.ndarray:
    """(T, 3) vertex indices of the Delaunay triangulation of (N, 2) points (duplicates are tolerated)."""
    pts = np.asarray(points, np.float64)
    lo, hi = pts.min(axis=0) - 1.0, pts.max(axis=0) + 1.0
    subdiv = cv2.Subdiv2D((float(lo[0]), float(lo[1]), float(hi[0] - lo[0] + 1), float(hi[1] - lo[1] + 1)))
    vertex_of: dict[int, int] = {}
    for index, (x, y) in enumerate(pts):
        vertex_of.setdefault(subdiv.insert((float(x), float(y))), index)
    triangles = []
    for tri in subdiv.getTriangleList():
        corners = tri.reshape(3, 2)
        ids = []
        for corner in corners:
            vertex, _ = subdiv.findNearest((float(corner[0]), float(corner[1])))
            ids.append(vertex_of.get(vertex, -1))
        if min(ids) >= 0 and len(set(ids)) == 3:
            triangles.append(ids)
    return np.unique(np.sort(np.array(triangles, dtype=np.intp), axis=1), axis=0)


def displacement_grid(
    src: np.ndarray,
    dst: np.ndarray,
    triangles: np.ndarray,
    origin: tuple[float, float],
    shape: tuple[int, int],
    step: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Coarse inverse displacement ``src - p`` at grid nodes ``p = origin + step * (j, i)`` (float32 grids of
    ``shape``), for points inside the ``dst`` triangles; zero elsewhere."""
    grid_h, grid_w = shape
    disp_x = np.zeros(shape, np.float32)
    disp_y = np.zeros(shape, np.float32)
    if len(triangles) == 0:
        return disp_x, disp_y
    ox, oy = origin
    # Everything in grid units (node (j, i) is the point (j, i)): dst corners, and per triangle one affine map from
    # grid units to barycentric coordinates (l1, l2) and one to the source displacement, evaluated per node.
    dst_g = (dst[triangles].astype(np.float64) - (ox, oy)) / step  # (T, 3, 2); float64: det of thin triangles
    src_t = src[triangles].astype(np.float64)  # (T, 3, 2)
    a = dst_g[:, 0]
    e1 = dst_g[:, 1] - a
    e2 = dst_g[:, 2] - a
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    valid = np.abs(det) > 1e-9
    inv = np.where(valid, 1.0 / np.where(valid, det, 1.0), 0.0)
    # (l1, l2) = M (p - a) with M = inverse of [e1 e2]
    m00, m01 = e2[:, 1] * inv, -e2[:, 0] * inv
    m10, m11 = -e1[:, 1] * inv, e1[:, 0] * inv
    # displacement(p) = src0 + l1 (src1 - src0) + l2 (src2 - src0) - (origin + step p): affine in p as well
    s0 = src_t[:, 0]
    d1 = src_t[:, 1] - s0
    d2 = src_t[:, 2] - s0
    coef = np.empty((len(triangles), 12), np.float32)
    coef[:, 0], coef[:, 1] = m00, m01
    coef[:, 2] = -(m00 * a[:, 0] + m01 * a[:, 1])
    coef[:, 3], coef[:, 4] = m10, m11
    coef[:, 5] = -(m10 * a[:, 0] + m11 * a[:, 1])
    for axis, base in ((0, 6), (1, 9)):
        gx = d1[:, axis] * m00 + d2[:, axis] * m10
        gy = d1[:, axis] * m01 + d2[:, axis] * m11
        coef[:, base] = gx - (step if axis == 0 else 0.0)
        coef[:, base + 1] = gy - (step if axis == 1 else 0.0)
        coef[:, base + 2] = s0[:, axis] - gx * a[:, 0] - gy * a[:, 1] - (ox if axis == 0 else oy)
    lo = np.minimum(np.minimum(dst_g[:, 0], dst_g[:, 1]), dst_g[:, 2])  # (faster than a reduce over 3)
    hi = np.maximum(np.maximum(dst_g[:, 0], dst_g[:, 1]), dst_g[:, 2])
    j0 = np.clip(np.ceil(lo[:, 0]), 0, grid_w).astype(np.int64)
    j1 = np.clip(np.floor(hi[:, 0]), -1, grid_w - 1).astype(np.int64)
    i0 = np.clip(np.ceil(lo[:, 1]), 0, grid_h).astype(np.int64)
    i1 = np.clip(np.floor(hi[:, 1]), -1, grid_h - 1).astype(np.int64)
    widths = np.maximum(j1 - j0 + 1, 0) * valid
    heights = np.maximum(i1 - i0 + 1, 0) * valid
    counts = widths * heights
    total = int(counts.sum())
    if total == 0:
        return disp_x, disp_y
    # Candidate nodes: each triangle's bounding box, row by row (np.repeat over the sorted triangles, no gathers).
    offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    width_rep = np.repeat(widths, counts)
    gi = np.repeat(i0, counts) + offset // width_rep
    gj = np.repeat(j0, counts) + offset % width_rep
    c = np.repeat(coef, counts, axis=0)
    px = gj.astype(np.float32)
    py = gi.astype(np.float32)
    l1 = c[:, 0] * px + c[:, 1] * py + c[:, 2]
    l2 = c[:, 3] * px + c[:, 4] * py + c[:, 5]
    tol = np.float32(-1e-5)  # shared edges: a node on one belongs to both triangles, never to neither
    inside = (l1 >= tol) & (l2 >= tol) & (l1 + l2 <= 1.0 - tol)
    # Nodes outside their candidate triangle are written to one spare cell past the grid (no masked copies).
    cell = np.where(inside, gi * grid_w + gj, grid_h * grid_w)
    flat_x = np.zeros(grid_h * grid_w + 1, np.float32)
    flat_y = np.zeros(grid_h * grid_w + 1, np.float32)
    flat_x[cell] = c[:, 6] * px + c[:, 7] * py + c[:, 8]
    flat_y[cell] = c[:, 9] * px + c[:, 10] * py + c[:, 11]
    return flat_x[:-1].reshape(shape), flat_y[:-1].reshape(shape)


def inverse_map(
    src: np.ndarray, dst: np.ndarray, triangles: np.ndarray, roi: tuple[int, int, int, int], step: int
) -> np.ndarray:
    """(y1-y0, x1-x0, 2) float32 map for ``cv2.remap``: for each pixel of ``roi`` inside a ``dst`` triangle, the
    matching point of the ``src`` triangle; the pixel itself elsewhere."""
    x0, y0, x1, y1 = roi
    # Coarse node k sits at pixel (x0 - step) + step*k + (step-1)/2, which is where cv2.resize (pixel-centre
    # convention) puts coarse sample k when upsampling by ``step``; one node of margin on each side (zero
    # displacement there) keeps the upsampled absolute coordinates exact up to the region's edge.
    grid_w = -(-(x1 - x0) // step) + 2
    grid_h = -(-(y1 - y0) // step) + 2
    ox = x0 - step + (step - 1) / 2.0
    oy = y0 - step + (step - 1) / 2.0
    disp_x, disp_y = displacement_grid(src, dst, triangles, (ox, oy), (grid_h, grid_w), step)
    coarse = np.empty((grid_h, grid_w, 2), np.float32)
    coarse[..., 0] = disp_x + (ox + step * np.arange(grid_w, dtype=np.float32))[None, :]
    coarse[..., 1] = disp_y + (oy + step * np.arange(grid_h, dtype=np.float32))[:, None]
    fine = cv2.resize(coarse, (grid_w * step, grid_h * step), interpolation=cv2.INTER_LINEAR)
    return fine[step : step + y1 - y0, step : step + x1 - x0]


_FAR = 1.0e5  # pixels: see covered_map


def covered_map(
    src: np.ndarray, dst: np.ndarray, triangles: np.ndarray, roi: tuple[int, int, int, int], step: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`inverse_map` for pasting a small source image (a reference crop) that only the triangles cover, plus
    a uint8 mask (255) of the pixels whose map is wholly inside the triangles.

    Outside the triangles the map points at the output pixel itself, which means nothing in a crop; and on the
    coarse grid's last cells the bilinear upsampling mixes such a node with a covered one. The source points are
    shifted far out first, so any pixel that touches an uncovered node lands far below zero and is told apart
    exactly; pasting more than the mask shows the crop's border smeared in a staircase along the grid."""
    maps = inverse_map(src + np.float32(_FAR), dst, triangles, roi, step)
    maps -= np.float32(_FAR)
    covered = ((maps[..., 0] > -1.0) & (maps[..., 1] > -1.0)).astype(np.uint8) * 255
    return maps, covered


def warp_region(
    image: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    triangles: np.ndarray,
    step: int = 4,
    min_motion: float = 0.05,
) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """Warp ``image`` so that points ``src`` (N, 2) move to ``dst``; returns (warped patch, (x0, y0, x1, y1)) for
    the region that changes, or None when nothing moves. Only triangles with a vertex moving more than
    ``min_motion`` pixels are mapped; everything outside them is left exactly as it was."""
    height, width = image.shape[:2]
    moved = np.linalg.norm(dst - src, axis=1) > min_motion
    active = triangles[moved[triangles].any(axis=1)]
    if len(active) == 0:
        return None
    corners = dst[active.ravel()]
    x0 = max(int(np.floor(corners[:, 0].min())), 0)
    y0 = max(int(np.floor(corners[:, 1].min())), 0)
    x1 = min(int(np.ceil(corners[:, 0].max())) + 1, width)
    y1 = min(int(np.ceil(corners[:, 1].max())) + 1, height)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    maps = inverse_map(src, dst, active, (x0, y0, x1, y1), step)
    patch = cv2.remap(image, maps, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return patch, (x0, y0, x1, y1)
