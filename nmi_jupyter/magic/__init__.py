"""The ``%%neuralmi`` magic: a thin translator from notebook syntax to the engine API."""
