"""Typed message objects for every global element of the ISO 15118 schema sets (XSD names kept)."""
