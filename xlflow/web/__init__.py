"""`xlflow serve`: the whole round in a browser, over the same library calls as the CLI
(`app.create_app`, `app.serve`).

Optional: `pip install 'xlflow[web]'` brings Flask and waitress. The pages are rendered on
the server from Jinja2 templates; the only script is htmx, vendored under static/, so
the console works with no network at all.
"""
