"""The ``typhoon`` command: the composition root."""
