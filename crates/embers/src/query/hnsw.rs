//! Approximate nearest neighbours: a hierarchical navigable small world graph (HNSW).
