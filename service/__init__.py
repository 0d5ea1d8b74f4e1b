"""The REST service: FastAPI over :class:`retrieval.Recommender`, with API keys, rate limits and
Prometheus metrics (docs/service.md). Build the app with :func:`service.app.create_app`."""
