"""Agglomerative (average-linkage) clustering of unit vectors with a cosine-similarity threshold."""

from __future__ import annotations

import numpy as np


def agglomerative_cosine(
    vectors: np.ndarray,
    threshold: float,
    min_clusters: int = 1,
    max_clusters: int | None = None,
) -> np.ndarray:
    """Cluster labels 0..k-1 (ordered by first appearance).

    Merges the two clusters with the highest average pairwise cosine similarity while
    that similarity is at least ``threshold``; keeps merging past the threshold while
    there are more than ``max_clusters``, and stops at ``min_clusters``.
    """
    count = len(vectors)
    if count == 0:
        return np.zeros(0, dtype=int)
    units = vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)
    similarity = units @ units.T
    np.fill_diagonal(similarity, -np.inf)
    sizes = np.ones(count)
    alive = np.ones(count, dtype=bool)
    members: list[list[int]] = [[index] for index in range(count)]
    clusters = count
    floor = max(1, min_clusters)
    while clusters > floor:
        flat = int(np.argmax(similarity))
        a, b = divmod(flat, count)
        best = similarity[a, b]
        if best < threshold and (max_clusters is None or clusters <= max_clusters):
            break
        # Average linkage (Lance-Williams): the merged row is the size-weighted mean.
        merged = (sizes[a] * similarity[a] + sizes[b] * similarity[b]) / (sizes[a] + sizes[b])
        similarity[a, :] = merged
        similarity[:, a] = merged
        similarity[a, a] = -np.inf
        similarity[b, :] = -np.inf
        similarity[:, b] = -np.inf
        sizes[a] += sizes[b]
        alive[b] = False
        members[a].extend(members[b])
        members[b] = []
        clusters -= 1
    labels = np.empty(count, dtype=int)
    order: dict[int, int] = {}
    for root in sorted((root for root in range(count) if alive[root]), key=lambda root: min(members[root])):
        order[root] = len(order)
        for index in members[root]:
            labels[index] = order[root]
    return labels
