"""A small Django project (a polls app) served by typhoon's ASGI and WSGI hosts in tests."""
