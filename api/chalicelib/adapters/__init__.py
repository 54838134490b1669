"""Adapters: one module per backend, each building all five ports."""
