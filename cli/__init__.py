"""The ``gcms`` command: a thin click shell over the :mod:`gcms` library."""
