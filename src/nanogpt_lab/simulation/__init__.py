"""Simulation mode: recorded real runs, published scaling laws and a bundled tiny model, replayed."""
