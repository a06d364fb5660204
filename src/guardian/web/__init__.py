"""Guardian's web application: FastAPI app factory, server-rendered pages, JSON API under /api."""
