"""Export stage: checkpoint → ONNX (checked, parity-tested) → TFLite float32 and full int8; strip, pack, report."""
