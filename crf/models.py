"""Visits and eCRFs."""
