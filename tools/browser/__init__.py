"""Browser lookup: allow-listed web pages and live source lookups, returned as untrusted data."""

from tools.browser.base import Browser, RawPage
from tools.browser.cache import WebCache
from tools.browser.config import DEFAULT_ALLOWED_DOMAINS, BrowserConfig
from tools.browser.lookup import SourceLookup, ask_source, lookup_source
from tools.browser.page import UNTRUSTED_NOTICE, WebPage, fetch_page, get_page

__all__ = [
    "DEFAULT_ALLOWED_DOMAINS",
    "UNTRUSTED_NOTICE",
    "Browser",
    "BrowserConfig",
    "RawPage",
    "SourceLookup",
    "WebCache",
    "WebPage",
    "ask_source",
    "fetch_page",
    "get_page",
    "lookup_source",
]
