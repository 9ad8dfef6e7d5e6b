"""Quantize stage: full-int8 calibration data; compression passes (pruning, weight sharing) to meet the budget."""
