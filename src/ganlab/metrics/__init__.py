"""Metrics: features -> statistics -> metric."""
