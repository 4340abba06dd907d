"""The URL guard on its own: schemes, allow-list matching and private addresses (fake DNS)."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from tools.browser.config import DEFAULT_ALLOWED_DOMAINS
from tools.browser.guard import check_url, host_allowed

DNS = {
    "www.setlist.fm": ["151.101.1.1"],
    "en.wikipedia.org": ["208.80.154.224", "2620:0:861:ed1a::1"],
    "rebind.setlist.fm": ["151.101.1.1", "10.1.2.3"],  # one private answer is enough to refuse
    "mapped.setlist.fm": ["::ffff:127.0.0.1"],
    "v6local.setlist.fm": ["fe80::1"],
    "meta.setlist.fm": ["169.254.169.254"],
    "cgnat.setlist.fm": ["100.64.0.1"],
}


def fake_dns(host: str, port: int) -> list[str]:
    if host not in DNS:
        raise OSError("Name or service not known")
    return DNS[host]


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("ticketmaster.com", True),
        ("www.ticketmaster.com", True),
        ("WWW.Ticketmaster.COM.", True),
        ("notticketmaster.com", False),
        ("ticketmaster.com.evil.net", False),
        ("en.wikipedia.org", True),
        ("127.0.0.1", False),
        ("localhost", False),
        ("::1", False),
    ],
)
def test_allow_list_matches_domains_and_subdomains_only(host: str, allowed: bool) -> None:
    assert host_allowed(host, DEFAULT_ALLOWED_DOMAINS) is allowed


def test_public_hosts_pass() -> None:
    for url in ("https://www.setlist.fm/setlists", "http://en.wikipedia.org/wiki/Coachella"):
        assert check_url(url, DEFAULT_ALLOWED_DOMAINS, fake_dns) == url


@pytest.mark.parametrize("host", ["rebind", "mapped", "v6local", "meta", "cgnat"])
def test_allow_listed_names_resolving_inside_are_refused(host: str) -> None:
    with pytest.raises(ValidationError, match="resolves to a private or local address"):
        check_url(f"https://{host}.setlist.fm/x", DEFAULT_ALLOWED_DOMAINS, fake_dns)


def test_unresolvable_host_says_so() -> None:
    with pytest.raises(ValidationError, match="could not be resolved"):
        check_url("https://nowhere.setlist.fm/", DEFAULT_ALLOWED_DOMAINS, fake_dns)


def test_credentials_in_url_are_refused() -> None:
    with pytest.raises(ValidationError, match="URLs with credentials"):
        check_url("https://user:pw@www.setlist.fm/", DEFAULT_ALLOWED_DOMAINS, fake_dns)


def test_literal_ip_only_when_listed_exactly() -> None:
    allowed = (*DEFAULT_ALLOWED_DOMAINS, "127.0.0.1")
    assert check_url("http://127.0.0.1:8080/", allowed, fake_dns)
    with pytest.raises(ValidationError, match="not on the browser's allow-list"):
        check_url("http://127.0.0.2:8080/", allowed, fake_dns)
