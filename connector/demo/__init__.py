"""A sample operator for ``evbill demo``: 3 stations, 2 tariffs, 4 customers and a day of sessions."""
