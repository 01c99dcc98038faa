"""The filter-strength lab: measures how much expression each filter lets through (``deadpan bench``)."""
