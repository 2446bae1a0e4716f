"""``python -m scanner`` runs the civiscan command line."""

from .cli import run

if __name__ == "__main__":
    run()
