"""Tests of the reference network, model format, fixtures, data preparation and training."""
