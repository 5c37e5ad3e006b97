"""Redaction: every credential form a migration log, a gate observation or a platform error can
carry is masked, and the text around it stays readable."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest

from components.gates.redact import MASK, known_secret_values, redact

AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key pair (STS GetAccessKeyInfo)
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_url_credentials_are_masked_and_host_kept() -> None:
    assert redact("connect postgresql://app:s3cr3t-pw@db.internal:5432/app failed") == (
        f"connect postgresql://{MASK}@db.internal:5432/app failed"
    )
    assert redact("redis://:s3cr3t-pw@cache:6379") == f"redis://{MASK}@cache:6379"


def test_libpq_password_is_masked_and_other_keywords_kept() -> None:
    text = "connection to server failed: host=db port=5432 user=app password=s3cr3t dbname=app"
    assert redact(text) == (
        f"connection to server failed: host=db port=5432 user=app password={MASK} dbname=app"
    )


def test_libpq_quoted_password_with_spaces_and_escapes_is_masked_whole() -> None:
    text = r"host=db password = 'with spaces \' and a quote' dbname=app"
    assert redact(text) == f"host=db password = {MASK} dbname=app"


def test_libpq_sslpassword_is_masked() -> None:
    text = "sslmode=verify-full sslpassword=client-key-pass sslcert=/certs/client.crt"
    assert redact(text) == f"sslmode=verify-full sslpassword={MASK} sslcert=/certs/client.crt"


@pytest.mark.parametrize("name", ["PGPASSWORD", "DB_PASSWORD", "POSTGRES_PASSWORD"])
def test_password_environment_assignments_are_masked(name: str) -> None:
    assert redact(f"env: {name}=hunter2hunter2 LANG=C") == f"env: {name}={MASK} LANG=C"


@pytest.mark.parametrize("scheme", ["Bearer", "Basic", "bearer"])
def test_authorization_header_keeps_the_scheme_and_masks_the_credentials(scheme: str) -> None:
    text = f"> Authorization: {scheme} dXNlcjpwYXNzd29yZA==\n> Accept: */*"
    assert redact(text) == f"> Authorization: {scheme} {MASK}\n> Accept: */*"


def test_authorization_field_in_json_is_masked() -> None:
    text = '{"headers": {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln"}}'
    assert redact(text) == f'{{"headers": {{"Authorization": "Bearer {MASK}"}}}}'


def test_bare_bearer_token_is_masked_but_prose_is_not() -> None:
    assert redact("calling api with Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln now") == (
        f"calling api with Bearer {MASK} now"
    )
    for prose in ("the bearer token expired", "WWW-Authenticate: Bearer realm=api"):
        assert redact(prose) == prose


@pytest.mark.parametrize("key_id", [AWS_KEY_ID, "ASIAY34FZKBOKMUTVV7A"])
def test_aws_access_key_ids_are_masked(key_id: str) -> None:
    assert redact(f"using access key {key_id} in eu-west-1") == (
        f"using access key {MASK} in eu-west-1"
    )


@pytest.mark.parametrize(
    "text",
    [
        f"aws_secret_access_key={AWS_SECRET}",
        f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}",
        f"aws_secret_access_key = {AWS_SECRET}",
        f"AWS_SECRET_ACCESS_KEY: {AWS_SECRET}",
    ],
)
def test_aws_secret_access_key_assignments_are_masked(text: str) -> None:
    masked = redact(text)
    assert AWS_SECRET not in masked
    assert masked.endswith(MASK)
    assert masked.lower().startswith("aws_secret_access_key")


def test_aws_secret_key_following_a_key_id_is_masked() -> None:
    assert redact(f"credentials {AWS_KEY_ID}:{AWS_SECRET} loaded") == (
        f"credentials {MASK}:{MASK} loaded"
    )


def test_aws_credentials_json_is_masked() -> None:
    text = (
        f'{{"AccessKeyId": "{AWS_KEY_ID}", "SecretAccessKey": "{AWS_SECRET}", '
        '"SessionToken": "FwoGZXIvYXdzEJr//////////wEaDP", "Expiration": "2026-01-01"}'
    )
    assert redact(text) == (
        f'{{"AccessKeyId": "{MASK}", "SecretAccessKey": "{MASK}", '
        f'"SessionToken": "{MASK}", "Expiration": "2026-01-01"}}'
    )


def test_presigned_url_signature_and_security_token_are_masked() -> None:
    url = (
        "https://bucket.s3.amazonaws.com/dump?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={AWS_KEY_ID}%2F20260101%2Feu-west-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host"
        "&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEJr&X-Amz-Signature=fe5f80f77d5fa3beca038a24"
    )
    masked = redact(url)
    for value in (AWS_KEY_ID, "IQoJb3JpZ2luX2VjEJr", "fe5f80f77d5fa3beca038a24"):
        assert value not in masked
    assert f"X-Amz-Security-Token={MASK}&X-Amz-Signature={MASK}" in masked
    assert "X-Amz-Date=20260101T000000Z&X-Amz-Expires=60" in masked


def test_json_password_field_is_masked() -> None:
    text = '{"user": "app", "password": "p\\"w d", "host": "db"}'
    assert redact(text) == f'{{"user": "app", "password": "{MASK}", "host": "db"}}'


def test_known_values_are_masked_anywhere() -> None:
    secret = "n0t-a-shape-at-all"
    assert redact(f"the app said {secret}!", [secret]) == f"the app said {MASK}!"


def test_known_values_are_masked_percent_encoded_too() -> None:
    password = "p@ss/w0rd:x y"
    url = f"postgresql://app:{quote(password, safe='')}@db:5432/app"
    text = f"DATABASE_URL={url} raw={password} form={quote_plus(password)} lower={url.lower()}"
    masked = redact(text, [password, url])
    assert password not in masked
    for encoded in (quote(password, safe=""), quote_plus(password), quote(password).lower()):
        assert encoded not in masked and encoded.lower() not in masked.lower()
    assert masked.count(MASK) == 4, masked


def test_longer_known_values_win_over_their_parts() -> None:
    url = "postgresql://app:pw-1234@db/app"
    assert redact(f"url {url}", ["pw-1234", url]) == f"url {MASK}"


def test_known_values_shorter_than_four_characters_are_left_alone() -> None:
    # Masking "db" would blot out every "db" in the log and point at the value wherever it
    # appears; a value that short protects nothing a guess would not find.
    assert redact("connected to db as app", ["db", "app", ""]) == "connected to db as app"
    assert redact("token abcd", ["abcd"]) == f"token {MASK}"


def test_ordinary_log_lines_are_untouched() -> None:
    for line in (
        "status 200, version v1.2.0",
        "applying migration 0042_add_index ... ok",
        "secret_files=/run/secrets/DATABASE_URL mounted",
        "platform: running, health=healthy, image matches",
    ):
        assert redact(line) == line


def test_a_known_url_masks_its_password_where_it_appears_alone() -> None:
    url = "postgresql://app:p%40ss-w0rd@db:5432/app"
    assert redact("psql: auth failed for p@ss-w0rd", [url]) == f"psql: auth failed for {MASK}"


def test_known_secret_values_reads_only_a_list_of_strings() -> None:
    assert known_secret_values(["a-secret", "", 3, None, "other"]) == ("a-secret", "other")
    assert known_secret_values("04da6b54-80e4-46f7-96ec-b56ff0331ba9") == ()  # preview unknown
    assert known_secret_values(None) == ()
