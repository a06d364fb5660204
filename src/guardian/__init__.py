"""Guardian: crime-prevention intelligence and coordination."""

__version__ = "0.1.0"
