"""Encore's models: recommenders and their offline benchmarks."""
