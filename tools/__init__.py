"""Maintainer scripts: generated blocks of the README and the docs pages, CLI examples, the fuzzer."""
