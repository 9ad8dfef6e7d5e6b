"""Microcontroller targets: arena measurement, gate and verification (TensorFlow Lite Micro and the generated C);
their board data, boards.json, is read by sqz.targets.profiles."""
