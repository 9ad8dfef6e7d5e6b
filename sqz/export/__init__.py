"""Export stage: checkpoint → ONNX (checked, parity-tested) and TFLite float32 and full int8 (sqz's own writer);
pack, report."""
