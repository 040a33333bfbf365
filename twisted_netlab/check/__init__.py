# -*- test-case-name: tests.check -*-
"""
netlab check: point netlab at someone else's lab program and grade it case
by case.  Pure case modules (``_case``, ``_cases_<kind>``, ``_report``)
decide; ``runner`` moves bytes, runs the ``--run`` child and the clocks;
``cli`` is the ``netlab check <kind>`` command.  No other family imports
this package.
"""

__all__: list = []
