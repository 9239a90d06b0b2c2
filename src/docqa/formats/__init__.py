"""Readers for the formats beyond plain text, Markdown and PDF text layers.

Each module imports its third-party library (lxml, python-docx, pdfplumber, pytesseract) inside
its functions, so ``import docqa`` stays light. :mod:`docqa.parsing` dispatches to them.
"""
