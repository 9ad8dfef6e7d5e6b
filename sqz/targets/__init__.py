"""Targets stage: board profiles, emulated ARM verification and deploy over SSH."""
