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


def _inverse_affines(src_tri: np.ndarray, dst_tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle, the 2x3 affine mapping dst -> src, and a validity mask (non-degenerate dst triangles).
    Closed form (edge matrices and a 2x2 inverse): no batched LU for a thousand tiny systems."""
    d1 = dst_tri[:, 1] - dst_tri[:, 0]
    d2 = dst_tri[:, 2] - dst_tri[:, 0]
    s1 = src_tri[:, 1] - src_tri[:, 0]
    s2 = src_tri[:, 2] - src_tri[:, 0]
    det = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    valid = np.abs(det) > 1e-6
    inv_det = np.where(valid, 1.0 / np.where(valid, det, 1.0), 0.0)
    # inverse of [[d1x, d2x], [d1y, d2y]] is [[d2y, -d2x], [-d1y, d1x]] / det
    i00, i01 = d2[:, 1] * inv_det, -d2[:, 0] * inv_det
    i10, i11 = -d1[:, 1] * inv_det, d1[:, 0] * inv_det
    affines = np.empty((len(dst_tri), 2, 3), np.float64)
    for row in range(2):
        a = s1[:, row] * i00 + s2[:, row] * i10
        b = s1[:, row] * i01 + s2[:, row] * i11
        affines[:, row, 0] = a
        affines[:, row, 1] = b
        affines[:, row, 2] = src_tri[:, 0, row] - a * dst_tri[:, 0, 0] - b * dst_tri[:, 0, 1]
    return affines, valid


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
    src_tri = src[triangles].astype(np.float64)
    dst_tri = dst[triangles].astype(np.float64)
    affines, valid = _inverse_affines(src_tri, dst_tri)
    ox, oy = origin
    gx = (dst_tri[:, :, 0] - ox) / step
    gy = (dst_tri[:, :, 1] - oy) / step
    j0 = np.clip(np.ceil(gx.min(axis=1)), 0, grid_w).astype(np.int64)
    j1 = np.clip(np.floor(gx.max(axis=1)), -1, grid_w - 1).astype(np.int64)
    i0 = np.clip(np.ceil(gy.min(axis=1)), 0, grid_h).astype(np.int64)
    i1 = np.clip(np.floor(gy.max(axis=1)), -1, grid_h - 1).astype(np.int64)
    widths = np.maximum(j1 - j0 + 1, 0) * valid
    heights = np.maximum(i1 - i0 + 1, 0) * valid
    counts = widths * heights
    total = int(counts.sum())
    if total == 0:
        return disp_x, disp_y
    tri = np.repeat(np.arange(len(triangles)), counts)
    offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    width_rep = widths[tri]
    gi = i0[tri] + offset // width_rep
    gj = j0[tri] + offset % width_rep
    # Barycentric inside test in grid units (edge functions with a small tolerance so shared edges leave no gap).
    px, py = gj.astype(np.float64), gi.astype(np.float64)
    ax, ay = gx[tri, 0], gy[tri, 0]
    bx, by = gx[tri, 1], gy[tri, 1]
    cx, cy = gx[tri, 2], gy[tri, 2]
    area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    sign = np.sign(area)
    e0 = ((bx - ax) * (py - ay) - (by - ay) * (px - ax)) * sign
    e1 = ((cx - bx) * (py - by) - (cy - by) * (px - bx)) * sign
    e2 = ((ax - cx) * (py - cy) - (ay - cy) * (px - cx)) * sign
    tol = -1e-6 * np.abs(area)
    inside = (e0 >= tol) & (e1 >= tol) & (e2 >= tol)
    tri, gi, gj = tri[inside], gi[inside], gj[inside]
    x = ox + step * gj
    y = oy + step * gi
    m = affines[tri]
    disp_x[gi, gj] = m[:, 0, 0] * x + m[:, 0, 1] * y + m[:, 0, 2] - x
    disp_y[gi, gj] = m[:, 1, 0] * x + m[:, 1, 1] * y + m[:, 1, 2] - y
    return disp_x, disp_y


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
