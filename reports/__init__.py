"""Renderers: HTML, JSON, JUnit, SARIF, CSV and Markdown, all from stored runs."""
