"""HiSTalk: hierarchical speech features -> sparse landmarks -> dense vertex displacements,
plus a coarse motion generator (see docs/models.md)."""
