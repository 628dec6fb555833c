"""The review workstation: a thin web layer over ``gcms`` for analysts, reviewers and QA.

``gcms review --store S`` serves :func:`~gcms.review.app.create_app` with uvicorn on the
loopback interface: sign-in with the store's users (:mod:`gcms.review.security`), work
queues, the exhibit and run view (chromatogram, components, spectra against the library
and the same-sequence standard, criteria: :mod:`gcms.review.views`), decisions and
signatures (each signed with the user's key, asked for every time), report issuing and
the QA dashboard, in English or Arabic (:mod:`gcms.review.i18n`).

Nothing here judges a result: the decisions, queues, credentials and reports are
``gcms.custody`` and ``gcms.report`` calls, and the store applies its rules to every
write whatever the screen allowed.
"""

from gcms.review.app import ReviewSettings, create_app
from gcms.review.serve import serve

__all__ = ["ReviewSettings", "create_app", "serve"]
