"""Maintainer scripts: README blocks, CLI examples, the fuzzer."""
