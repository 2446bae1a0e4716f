"""Shipped policies, loaded by name through importlib.resources."""
