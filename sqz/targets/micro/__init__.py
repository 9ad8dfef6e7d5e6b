"""Microcontroller targets: TensorFlow Lite Micro board profiles, arena measurement, gate and verification."""
