"""Targets stage: board profiles, size budgets and the gate."""
