"""The ``litpose`` command line."""
