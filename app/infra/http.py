"""The one TLS setup for Runboard's outgoing HTTPS (webhooks, commit statuses, forge APIs, the CLI's and UI's client).

httpx loads the CA bundle (certifi's, or SSL_CERT_FILE / SSL_CERT_DIR) into a new SSL context for every client it
makes: 30-50 ms of CPU each, and the webhook sender and the commit statuses make a client per request. One context,
made the first time it is asked for and shared (an SSL context serves any number of connections and threads), costs
that once a process; every client passes it as `verify=`."""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
