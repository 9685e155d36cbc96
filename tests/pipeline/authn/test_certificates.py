"""Which principal a client certificate names: the first URI SAN, else DNS SAN, else CN."""

from __future__ import annotations

from cryptography import x509

from pipeline.authn.certificates import certificate_identity
from tests.certs import issue, make_ca
from tests.pipeline.authn.certs import auth_context

CA = make_ca("test ca")


def test_a_uri_san_wins_over_dns_sans_and_the_cn_whatever_their_order() -> None:
    cert = issue(
        CA,
        cn="worker-cn",
        sans=[
            x509.DNSName("worker.acme.example"),
            x509.UniformResourceIdentifier("spiffe://acme/worker"),
            x509.UniformResourceIdentifier("spiffe://acme/second"),
        ],
    )
    assert certificate_identity(auth_context(cert)) == "spiffe://acme/worker"


def test_without_a_uri_san_the_first_dns_san() -> None:
    cert = issue(CA, cn="worker-cn", sans=[x509.DNSName("a.acme.example"), x509.DNSName("b.acme.example")])
    assert certificate_identity(auth_context(cert)) == "a.acme.example"


def test_without_uri_or_dns_sans_the_common_name() -> None:
    plain = issue(CA, cn="worker-cn")
    assert certificate_identity(auth_context(plain)) == "worker-cn"
    email_only = issue(CA, cn="mailer", sans=[x509.RFC822Name("ops@acme.example")])
    assert certificate_identity(auth_context(email_only)) == "mailer"


def test_no_certificate_or_no_name_is_no_identity() -> None:
    assert certificate_identity({}) is None
    assert certificate_identity({"transport_security_type": [b"insecure"]}) is None
    assert certificate_identity({"x509_pem_cert": [b"not a pem"]}) is None
    assert certificate_identity(auth_context(issue(CA, cn=None))) is None
