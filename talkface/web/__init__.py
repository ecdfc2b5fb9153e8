"""``talkface serve``: a Gradio page and an HTTP API (``/v1/jobs``) on one FastAPI server.

Needs the ``web`` extra (``pip install 'talkface[web]'``): gradio, which brings FastAPI and uvicorn.
Layers: :mod:`.config` (limits), :mod:`.jobs` (worker pool, queue, expiry), :mod:`.uploads` (sniffing
and limits of uploaded files), :mod:`.api` (the HTTP API), :mod:`.ui` (the page), :mod:`.server`.
"""
