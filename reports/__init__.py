"""Jinja2 templates for reports. Installed as bge_eval._reports."""
