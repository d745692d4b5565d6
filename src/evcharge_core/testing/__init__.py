"""Test support shipped with the package: the repository conformance suite."""
