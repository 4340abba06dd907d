"""Batch and stream jobs: sources, transforms, sinks, marts and the demo data generator."""
