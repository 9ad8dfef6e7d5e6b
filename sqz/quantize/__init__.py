"""Quantize stage: full-int8 calibration data; compression passes to meet the size budget."""
