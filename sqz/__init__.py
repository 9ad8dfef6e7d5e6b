"""sqz: SqueezeNet from training to an ARM board."""

__version__ = "0.1.0"
