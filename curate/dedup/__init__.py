"""Deduplication: exact (content hash) and near (MinHash LSH with verification), as global stages."""
