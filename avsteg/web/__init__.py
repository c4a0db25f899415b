"""The stödfunktion's web app (``avsteg web``): server-rendered Swedish pages on the register.

Starlette + Jinja2; every page and action works without JavaScript. The app never speaks SQL:
it reads through :mod:`avsteg.web.readmodel` and acts through service functions, both of which
go to :mod:`avsteg.storage`.
"""
