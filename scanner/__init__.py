"""civiscan: compliance scanning for servers and web endpoints against YAML policies."""

__version__ = "0.1.0"
