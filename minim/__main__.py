"""``python -m minim``."""

from minim.cli.main import main

if __name__ == "__main__":
    main()
