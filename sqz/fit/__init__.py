"""Fit stage: what fits the budget, from the architecture record alone (no torch): the exact size predictor, the
planner that picks the architecture, the prunable channel counts and the routes that would fit."""
