"""The voter-data endpoints of /api/v1/ (registered on the router in campaign/api_urls.py)."""
