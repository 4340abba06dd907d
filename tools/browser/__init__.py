"""Browser lookup: allow-listed web pages and live source lookups, returned as untrusted data."""

from tools.browser.base import Browser, RawPage
from tools.browser.cache import WebCache
from tools.browser.config import DEFAULT_ALLOWED_DOMAINS, BrowserConfig
from tools.browser.lookup import SourceLookup, lookup_source
from tools.browser.page import UNTRUSTED_NOTICE, WebPage, fetch_page

__all__ = [
    "DEFAULT_ALLOWED_DOMAINS",
    "UNTRUSTED_NOTICE",
    "Browser",
    "BrowserConfig",
    "RawPage",
    "SourceLookup",
    "WebCache",
    "WebPage",
    "fetch_page",
    "lookup_source",
]
