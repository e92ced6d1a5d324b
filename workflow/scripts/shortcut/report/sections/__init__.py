"""The report's sections, one module each, in the order of the report (see :func:`..build.build_report`)."""
