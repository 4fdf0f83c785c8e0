"""Compilers and emulators dietgen drives: host builds now, cross builds and emulators per board."""
