"""Quantize stage: the graph sqz writes, its float64 calibration, the quantised graph, INT4 training and the TFLite
flatbuffer writer."""
