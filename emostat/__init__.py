"""emostat: statistics-first study of emotion concepts inside language models."""

__version__ = "0.1.0"
