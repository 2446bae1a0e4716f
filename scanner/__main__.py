"""``python -m scanner`` runs the civiscan command line."""

from .cli import main

if __name__ == "__main__":
    main()
