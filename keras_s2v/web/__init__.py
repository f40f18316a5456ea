"""The `s2v web` page: upload a face and speech in a browser, get the dubbed video.

Needs the `web` extra: `pip install 'keras-s2v[web]'` (FastAPI, uvicorn, python-multipart).
"""
