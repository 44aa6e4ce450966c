"""The dubbing operator: turns DubbingJobs into stage Pods, one at a time.

Layout: ``decisions`` (pure: observed objects -> actions), ``podspec`` and
``observe`` (pure builders/readers), ``admission`` (fair queue; Redis or API
server), ``notify`` (ntfy), ``metrics``, ``apply`` (actions -> API calls),
``handlers`` (kopf wiring), ``__main__`` (command line).
"""
