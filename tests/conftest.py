"""Shared fixtures. Helpers' fixture modules are imported here so every test file sees them."""
