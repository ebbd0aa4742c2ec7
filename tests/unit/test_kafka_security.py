"""Kafka security settings reach every client: SASL with TLS, mutual TLS, and clear refusals."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr

from services.common.connection import client_kwargs, make_security
from services.common.settings import KafkaSettings

PASSWORD = "kafka-s3cret"


def settings(**values: object) -> KafkaSettings:
    return KafkaSettings.model_validate({"bootstrap_servers": "broker:9093", **values})


def test_plaintext_needs_no_security() -> None:
    assert make_security(settings()) is None
    assert client_kwargs(settings())["ssl_context"] is None


def test_sasl_ssl_with_scram_reaches_faststream_and_plain_clients() -> None:
    secured = settings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="sync",
        sasl_password=SecretStr(PASSWORD),
    )
    security = make_security(secured)
    assert security is not None and type(security).__name__ == "SASLScram512"
    assert security.use_ssl and security.ssl_context is not None
    kwargs = client_kwargs(secured)
    assert kwargs["security_protocol"] == "SASL_SSL" and kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "sync" and kwargs["ssl_context"] is not None
    assert PASSWORD not in repr(secured)  # a SecretStr: never in logs or tracebacks


def test_sasl_without_credentials_is_refused_with_the_variables_to_set() -> None:
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME/PASSWORD"):
        make_security(settings(security_protocol="SASL_SSL"))


def test_mutual_tls_loads_the_client_certificate(tmp_path: Path) -> None:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=sync", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    security = make_security(
        settings(security_protocol="SSL", ssl_certfile=str(cert), ssl_keyfile=str(key))
    )
    assert security is not None and security.ssl_context is not None
    with pytest.raises(FileNotFoundError):  # a wrong path fails at start, not at first use
        make_security(settings(security_protocol="SSL", ssl_certfile=str(tmp_path / "none")))
