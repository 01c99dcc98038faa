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
    if len(triangles) == 0:
        return np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    ox, oy = origin
    # Everything in grid units (node (j, i) is the point (j, i)): dst corners, and per triangle one affine map from
    # grid units to barycentric coordinates (l1, l2) and one to the source displacement, evaluated per node.
    # All per-triangle and per-node quantities are contiguous 1-D arrays: numpy is several times slower on strided
    # (T, 3, 2) slices and on int64 division, and this runs up to three times a frame (main warp, mouth, band).
    corner = np.ascontiguousarray(triangles.T)  # (3, T) vertex indices
    dst_x = np.ascontiguousarray(dst[:, 0], np.float64)  # float64: the det of thin triangles
    dst_y = np.ascontiguousarray(dst[:, 1], np.float64)
    src_x = np.ascontiguousarray(src[:, 0], np.float64)
    src_y = np.ascontiguousarray(src[:, 1], np.float64)
    gx = [(np.take(dst_x, corner[k]) - ox) / step for k in range(3)]
    gy = [(np.take(dst_y, corner[k]) - oy) / step for k in range(3)]
    ax, ay = gx[0], gy[0]
    e1x, e1y = gx[1] - ax, gy[1] - ay
    e2x, e2y = gx[2] - ax, gy[2] - ay
    det = e1x * e2y - e1y * e2x
    valid = np.abs(det) > 1e-9
    inv = np.where(valid, 1.0 / np.where(valid, det, 1.0), 0.0)
    # (l1, l2) = M (p - a) with M = inverse of [e1 e2]
    m00, m01 = e2y * inv, -e2x * inv
    m10, m11 = -e1y * inv, e1x * inv
    # displacement(p) = src0 + l1 (src1 - src0) + l2 (src2 - src0) - (origin + step p): affine in p as well
    coef = np.empty((12, len(triangles)), np.float32)
    coef[0], coef[1] = m00, m01
    coef[2] = -(m00 * ax + m01 * ay)
    coef[3], coef[4] = m10, m11
    coef[5] = -(m10 * ax + m11 * ay)
    for src_axis, base, shift_x, shift_y, shift in ((src_x, 6, step, 0.0, ox), (src_y, 9, 0.0, step, oy)):
        s0 = np.take(src_axis, corner[0])
        d1 = np.take(src_axis, corner[1]) - s0
        d2 = np.take(src_axis, corner[2]) - s0
        grad_x = d1 * m00 + d2 * m10
        grad_y = d1 * m01 + d2 * m11
        coef[base] = grad_x - shift_x
        coef[base + 1] = grad_y - shift_y
        coef[base + 2] = s0 - grad_x * ax - grad_y * ay - shift
    lo_x = np.minimum(np.minimum(gx[0], gx[1]), gx[2])
    lo_y = np.minimum(np.minimum(gy[0], gy[1]), gy[2])
    hi_x = np.maximum(np.maximum(gx[0], gx[1]), gx[2])
    hi_y = np.maximum(np.maximum(gy[0], gy[1]), gy[2])
    j0 = np.clip(np.ceil(lo_x), 0, grid_w).astype(np.int32)
    j1 = np.clip(np.floor(hi_x), -1, grid_w - 1).astype(np.int32)
    i0 = np.clip(np.ceil(lo_y), 0, grid_h).astype(np.int32)
    i1 = np.clip(np.floor(hi_y), -1, grid_h - 1).astype(np.int32)
    widths = np.maximum(j1 - j0 + 1, 0) * valid
    heights = np.maximum(i1 - i0 + 1, 0) * valid
    counts = widths * heights
    total = int(counts.sum())
    if total == 0:
        return np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    # Candidate nodes: each triangle's bounding box row by row, built as the (triangle, row) pairs first and then
    # their nodes (np.repeat over the triangles in order, no division).
    rows = int(heights.sum())
    row_i = np.repeat(i0 - (np.cumsum(heights) - heights), heights) + np.arange(rows, dtype=np.int32)
    row_w = np.repeat(widths, heights)
    row_j0 = np.repeat(j0, heights)
    gi = np.repeat(row_i, row_w)
    gj = np.repeat(row_j0 - (np.cumsum(row_w) - row_w), row_w) + np.arange(total, dtype=np.int32)
    # The barycentric maps for every candidate node, the displacement maps only for the nodes inside (about half
    # of the candidates): gathering coefficients by owner beats repeating all twelve of them.
    owner = np.repeat(np.arange(len(triangles), dtype=np.int32), counts)
    bary_coef = coef[:6].take(owner, axis=1)
    px = gj.astype(np.float32)
    py = gi.astype(np.float32)
    l1 = bary_coef[0] * px + bary_coef[1] * py + bary_coef[2]
    l2 = bary_coef[3] * px + bary_coef[4] * py + bary_coef[5]
    tol = np.float32(-1e-5)  # shared edges: a node on one belongs to both triangles, never to neither
    inside = np.flatnonzero((l1 >= tol) & (l2 >= tol) & (l1 + l2 <= 1.0 - tol))
    px, py = px[inside], py[inside]
    disp_coef = coef[6:].take(owner[inside], axis=1)
    cell = gi[inside] * grid_w + gj[inside]
    disp_x = np.zeros(grid_h * grid_w, np.float32)
    disp_y = np.zeros(grid_h * grid_w, np.float32)
    disp_x[cell] = disp_coef[0] * px + disp_coef[1] * py + disp_coef[2]
    disp_y[cell] = disp_coef[3] * px + disp_coef[4] * py + disp_coef[5]
    return disp_x.reshape(shape), disp_y.reshape(shape)


def inverse_map(
    src: np.ndarray,
    dst: np.ndarray,
    triangles: np.ndarray,
    roi: tuple[int, int, int, int],
    step: int,
    sampled_from: tuple[int, int] = (0, 0),
) -> np.ndarray:
    """(y1-y0, x1-x0, 2) float32 map for ``cv2.remap``: for each pixel of ``roi`` inside a ``dst`` triangle, the
    matching point of the ``src`` triangle; the pixel itself elsewhere; both as seen from pixel ``sampled_from``
    (x, y) of the source, the corner of the part of it that is remapped."""
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
    coarse[..., 0] = disp_x + (ox - sampled_from[0] + step * np.arange(grid_w, dtype=np.float32))[None, :]
    coarse[..., 1] = disp_y + (oy - sampled_from[1] + step * np.arange(grid_h, dtype=np.float32))[:, None]
    fine = cv2.resize(coarse, (grid_w * step, grid_h * step), interpolation=cv2.INTER_LINEAR)
    return fine[step : step + y1 - y0, step : step + x1 - x0]


def remap_bgra(source: np.ndarray, maps: np.ndarray, dst: np.ndarray | None = None) -> np.ndarray:
    """BGR ``cv2.remap`` (bilinear, border repeated) of a BGRA ``source``, into ``dst`` if given. OpenCV's 4-channel
    bilinear remap is vectorised and its 3-channel one is not: a colour source is remapped as BGRA (d6's 460x584
    face region at 1280x720: 1.24 -> 0.54 ms; the conversion back to BGR about 0.1 ms)."""
    warped = cv2.remap(source, maps, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.cvtColor(warped, cv2.COLOR_BGRA2BGR, dst=dst)


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


def _bgr_rows(image: np.ndarray) -> bool:
    """Whether ``image`` is 3-channel with its pixels packed along positive rows, as OpenCV can write into in place
    (a mirrored or transposed view is not)."""
    return (
        image.ndim == 3
        and image.shape[2] == 3
        and image.strides[2] == 1
        and image.strides[1] == 3
        and image.strides[0] >= 3 * image.shape[1]
    )


def warp_region(
    image: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    triangles: np.ndarray,
    step: int = 4,
    min_motion: float = 0.05,
) -> tuple[int, int, int, int] | None:
    """Warp ``image`` in place so that points ``src`` (N, 2) move to ``dst``; returns the region (x0, y0, x1, y1)
    that changed, or None when nothing moves. Only triangles with a vertex moving more than ``min_motion`` pixels
    are mapped; everything outside them is left exactly as it was."""
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
    if not _bgr_rows(image):
        maps = inverse_map(src, dst, active, (x0, y0, x1, y1), step)
        image[y0:y1, x0:x1] = cv2.remap(image, maps, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return x0, y0, x1, y1
    # A colour image is remapped as BGRA (:func:`remap_bgra`). Only the part the map can sample is converted: the
    # region, the source triangles and one coarse cell around (the upsampled map mixes neighbouring nodes, never
    # reaching further). The map is built as seen from that part's corner (a separate pass over it took 0.14 ms);
    # its float32 rounding moves a sample by 1/32 pixel here and there: on the shared clips at 1280x720, 6 to 48
    # pixels of a frame's face come out one level (at most two) different.
    sources = src[active.ravel()]
    sx0 = max(min(x0, int(np.floor(sources[:, 0].min()))) - step - 2, 0)
    sy0 = max(min(y0, int(np.floor(sources[:, 1].min()))) - step - 2, 0)
    sx1 = min(max(x1, int(np.ceil(sources[:, 0].max())) + 1) + step + 2, width)
    sy1 = min(max(y1, int(np.ceil(sources[:, 1].max())) + 1) + step + 2, height)
    sampled = cv2.cvtColor(image[sy0:sy1, sx0:sx1], cv2.COLOR_BGR2BGRA)
    maps = inverse_map(src, dst, active, (x0, y0, x1, y1), step, sampled_from=(sx0, sy0))
    remap_bgra(sampled, maps, dst=image[y0:y1, x0:x1])
    return x0, y0, x1, y1
